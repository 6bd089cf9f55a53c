// Package pgstore is eventfold's PostgreSQL event store, built on pgx/v5. It
// implements [eventstore.Store], [eventstore.KeyedAppender] and
// [eventstore.OutcomeStore] and passes the conformance suite in
// eventstore/eventstoretest.
//
// # Setting up
//
// The schema is embedded in the package and applied explicitly:
//
//	pool, err := pgxpool.New(ctx, "postgres://...")
//	err = pgstore.Migrate(ctx, pool, nil)      // idempotent, safe from many processes
//	store, err := pgstore.New(pool, nil)
//
// Tables live in their own PostgreSQL schema ("eventfold" unless
// Options.Schema says otherwise; see ValidateSchema): streams (one row per stream), events,
// command_keys (the first outcome of each keyed command: an append's
// position or a refusal, and the command's hash), and the append_events
// function. The index that looks events
// up by correlation ID is opt-in: see CreateCorrelationIndex.
//
// # Appends
//
// Every Append is one round trip. An append at an exact version (what a
// command handler sends) outside a caller's transaction is one INSERT that
// stores the events only next to the expected version's event; the unique
// index on (tenant, stream, version) makes exactly one of several appends
// with the same expected version win. Every other append is a single call
// of append_events, a prepared statement that checks command keys and event
// IDs for a retry, locks the stream's row, reads its version from the events
// table, and only then inserts the events. A writer that loses writes no
// event row and takes no position. Appends to different streams never wait
// for each other. A stream's version is its last event's
// (docs/design.md §14). [EnforceVersionOrder] makes the events table
// enforce the order itself, for other writers: a plain INSERT of a version
// whose predecessor is not stored then fails with SQLSTATE 23514, and one
// that would list the stream out of order in the log with 40001. It is off
// by default because every append pays for it.
//
// Pass a pgx.Tx to New to append inside your own transaction. Keep such
// transactions short; see "Long transactions" below. An append in your
// transaction to a stream that a later transaction appended to first fails
// with a serialization error (SQLSTATE 40001), because the log would list
// the stream's versions out of order; retry the transaction. Appends on a
// pool retry this by themselves.
//
// # The global log
//
// Each event row stores the ID of the transaction that wrote it (xid8)
// beside an identity sequence. ReadAll returns events ordered by that pair,
// and only from transactions older than pg_snapshot_xmin of the reading
// statement's snapshot: every such transaction has committed or rolled back,
// and every later transaction gets a higher ID, so no event can ever appear
// before the last position a reader has seen. Readers need no locks and
// writers never serialise. docs/design.md has the argument in full.
//
// ReadAllFiltered (eventstore.FilteredReader) reads the log filtered by
// event type and stream ID prefix under the same rule, in one statement,
// from the index events_type_log (tenant, type, transaction ID, sequence):
// a reader of a few types reads only their events, and the page's Through
// position moves past the others, never past an open transaction's events.
// projection.LogSource uses it for the types a projection handles.
//
// # Reading from a hot standby
//
// Store.WithReplica returns a [Replica]: a Store whose ReadAll reads a
// PostgreSQL hot standby of the primary, with the same gap-safety (the
// standby's snapshots know the primary's running transactions), and falls
// back to the primary while the standby is unreachable or more than
// ReplicaOptions.MaxLagBytes behind. Replica.Lag measures the standby's
// replay lag. docs/scaling.md has the setup and measurements.
//
// # Tenants
//
// The Store New returns is the default tenant. ForTenant returns a view
// confined to one tenant, AllTenants a reader of every tenant's log; every
// tenant-owned table carries a tenant_id. Optional row-level security
// (Options.RowLevelSecurity, EnableRowLevelSecurity) lets PostgreSQL enforce
// the separation too. docs/tenancy.md has the details.
//
// # Long transactions
//
// pg_snapshot_xmin is cluster-wide: any transaction that has written
// anything, in any database of the cluster, holds back every reader of the
// log until it ends, so projections stall behind it. Keep write transactions
// short, never wait on a network call inside one, and set
// idle_in_transaction_session_timeout (for example 60s) on the role or
// database so a forgotten transaction cannot stall projections for long.
// Store.HeldBack counts the committed events that readers cannot see yet
// and names the open transactions holding them back (`eventfold horizon`
// prints it, and `eventfold projections status` warns when anything is
// held back), and since when, also when PostgreSQL hides the holders'
// details from the store's role (HorizonHolder.Hidden).
package pgstore
