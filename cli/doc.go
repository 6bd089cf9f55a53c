// Package cli is the operational command line of an eventfold application,
// as a library the application's own binary mounts.
//
// Projections are Go code compiled into the application, so only the
// application's binary can run their handlers. It mounts this package with
// its projections, and gets the same commands as the generic eventfold
// binary plus those that run projection code:
//
//	func main() {
//		cli.Main(cli.Options{Use: "shop", Projections: views.Configs})
//	}
//
// The commands:
//
//	migrate                        create or upgrade the event store
//	streams list|show              inspect streams (--json)
//	streams delete|truncate        delete a stream (--hard asks first) or truncate it
//	streams archive [--read]       move a finished stream to the archive; print it
//	streams metadata|reclaim       a stream's retention; erase what no read returns
//	projections status NAME...     versions, checkpoints, lag and faults
//	projections retry|skip NAME    resume a faulted projection, in any process
//	projections rebuild NAME       rebuild a read model with no downtime
//	relay --topic T                forward the log to NATS JetStream
//	worker [--only NAME]           run the application's projections and process managers
//	processes status               each process manager's position and lag
//	horizon                        events an open transaction hides from projections
//	tenants move|shard|assign      move a tenant between PostgreSQL clusters (shards)
//
// Connection settings come from flags or the environment
// (EVENTFOLD_POSTGRES_URL, EVENTFOLD_POSTGRES_REPLICA_URL, EVENTFOLD_SCHEMA,
// EVENTFOLD_REDIS_URL, EVENTFOLD_REDIS_PREFIX, EVENTFOLD_NATS_URL). Every
// command has --help; docs/operations.md describes them.
package cli
