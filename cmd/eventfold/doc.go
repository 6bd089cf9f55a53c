// Command eventfold scaffolds and operates applications built on eventfold.
//
//	eventfold new <module path> [flags]        scaffold an application
//	eventfold migrate                          create or upgrade the event store
//	eventfold streams list|show                inspect streams (--json)
//	eventfold streams delete|truncate          delete a stream (--hard asks first) or truncate it
//	eventfold streams metadata|reclaim         a stream's retention; erase what no read returns
//	eventfold projections status [NAME...]     versions, checkpoints, lag, faults
//	eventfold projections retry|skip NAME      resume a faulted projection
//	eventfold relay --topic T                  forward the log to NATS JetStream
//	eventfold console [--listen A] [--token T] read-only web console
//	eventfold horizon                          events an open transaction hides from projections
//
// Every command but new comes from package cli, which an application's own
// binary mounts to get them with its projections compiled in (worker,
// projections rebuild); this binary has none. Connection settings come from
// flags or the environment (EVENTFOLD_POSTGRES_URL, EVENTFOLD_SCHEMA,
// EVENTFOLD_REDIS_URL, EVENTFOLD_REDIS_PREFIX, EVENTFOLD_NATS_URL); every
// subcommand has --help and docs/operations.md describes them.
//
// # new
//
//	go run github.com/eventfold/eventfold/cmd/eventfold new <module path> [flags]
//
// new writes a small, complete application into a new folder (by default the
// last element of the module path): go.mod, a decider with one command and
// one event and its commandtest tests, a projection with a Redis read model
// and an index, an HTTP API whose commands return consistency tokens and whose
// queries wait for them, an end-to-end test against PostgreSQL and Redis, a
// README and a Makefile. Its replicas share the projections (projection.Group
// over cli.Leaser). It then runs go mod tidy there. Flags:
//
//	--aggregate Name   the aggregate (default Order)
//	--dir path         where to write (default: last element of the module path)
//	--replace path     add a replace of github.com/eventfold/eventfold to path
//	                   (a local checkout of the framework)
//	--no-tidy          do not run go mod tidy
//
// Without --replace, new tells from its own source path where eventfold is:
// run from a checkout (go run ./cmd/eventfold, or a binary built there), it
// replaces the module with that checkout; run as a published version, it
// requires that version; otherwise (a -trimpath build of a checkout) it
// stops and asks for --replace.
//
// The templates live in templates/ and are embedded in the binary.
package main
