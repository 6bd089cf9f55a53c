// Command eventfold scaffolds applications built on eventfold.
//
//	go run github.com/eventfold/eventfold/cmd/eventfold new <module path> [flags]
//
// new writes a small, complete application into a new folder (by default the
// last element of the module path): go.mod, a decider with one command and
// one event and its commandtest tests, a projection with a Redis read model
// and an index, an HTTP API whose commands return consistency tokens and whose
// queries wait for them, an end-to-end test against PostgreSQL and Redis, a
// README and a Makefile. It then runs go mod tidy there. Flags:
//
//	--aggregate Name   the aggregate (default Order)
//	--dir path         where to write (default: last element of the module path)
//	--replace path     add a replace of github.com/eventfold/eventfold to path
//	                   (a local checkout of the framework)
//	--no-tidy          do not run go mod tidy
//
// The templates live in templates/ and are embedded in the binary.
package main
