// Package command is the write side of eventfold: aggregates written as
// deciders, and the Handler that runs them against an [eventstore.Store]
// with optimistic concurrency, retries, idempotency keys and snapshots.
//
// # Deciders
//
// A [Decider] is an aggregate in functional form: an initial state, Evolve
// to apply one past event to the state, and Decide to turn a command and
// the current state into new events or a domain error. Deciders do no I/O,
// so they are tested as plain functions (see package commandtest).
//
// # Handling commands
//
// A [Handler] binds a Decider to a store and a [Registry]. [Handler.Handle]
// loads the stream (from a snapshot plus the events after it, when
// snapshots are on), calls Decide and appends the events, expecting the
// version it loaded. If another writer appended first, it reads the events
// appended since and decides again, waiting a jittered, exponentially growing
// delay between tries, up to the [RetryPolicy] (by default 30 tries and at
// most about 2.5 seconds of waiting). Domain errors returned by Decide reach the caller
// unchanged and append nothing.
//
// Commands for the same stream take turns within a Handler, in arrival
// order, so writers in one process never conflict with each other; only
// writers elsewhere can. A command that waited for its turn starts from the
// state the command ahead of it left (that command's events applied with
// Evolve) and appends without reading the stream; if another process wrote
// in between, the append conflicts and the retry reads what it wrote. So
// Evolve must build the same state from an event as decided as from the
// same event read back from the store, which snapshots need too.
//
// Handle returns a [Result] with the stream's new version and a
// consistency token, the eventstore.Position of the last appended event. A
// query side that has processed that position reflects the command; an
// HTTP API returns Result.Position.String() to its client, which passes it
// back on reads that must see the write.
//
// # Events, codecs and schema evolution
//
// A [Registry] maps Go event types to stored type names ([Register]) and
// encodes payloads with a [Codec], JSON by default. Each event type has a
// schema version, stored with every event in Metadata.Extra under
// [SchemaKey]; the stored type name does not change between versions, so
// projections keep matching on it. When a Go type changes shape, raise its
// version and register an [UpcastFunc] from each old version to the next:
// reading an old event runs the chain (v1 to v2 to v3) before decoding.
// Stored events are never rewritten. Reading a type name that is not
// registered fails with [ErrUnknownEventType], unless
// Options.SkipUnknownEvents says to skip it.
//
// # Metadata
//
// Every appended event records the ID of the command that caused it as its
// causation ID, and the correlation ID of the flow as its correlation ID.
// Both travel in the context: [WithCorrelationID] at the edge (for example
// from an HTTP request ID), [WithCommandID] in transports. A Handler gives
// a command without an ID a new one, and a command without a correlation ID
// its own ID as the correlation ID. An event handler that sends commands in
// reaction to an event passes the event's correlation ID on with
// WithCorrelationID, so the whole flow shares one ID.
//
// # Idempotent commands
//
// A command implementing [Keyed] carries an idempotency key. The key
// remembers the command's first outcome, in a store implementing
// eventstore.OutcomeStore (memstore and pgstore do), across processes and
// restarts, for the store's retention period:
//
//   - events appended: the key is recorded in the same atomic append; the
//     same key later appends nothing and returns that result with
//     Result.Replayed set;
//   - a refusal (Decide returned an error): the key records its message
//     and code; the same key later returns a [RejectedError] with the same
//     message and Code, and Replayed set, without deciding again, even if
//     the command would succeed now.
//
// With the key, the Handler stores [Hash] of the command (its Go type name
// and JSON encoding). The same key with a different command fails with
// [ErrKeyReused], naming the key, and appends nothing. A command that
// changes nothing records no outcome; its key stays free.
//
// Options.Refusals names the domain's errors by stable codes, so that a
// replayed refusal unwraps to the same sentinel: errors.Is(err,
// ErrInsufficientFunds) holds for the first refusal and every replay. A
// refusal whose error is not listed is stored with its Go type name as its
// code and replays as its message only (it still matches [ErrRejected]).
//
// A keyed command sent to a store without OutcomeStore fails with
// [ErrIdempotencyUnsupported] rather than being silently handled twice.
//
// # Input from outside
//
// [DecodeJSON] reads a command from an HTTP body or a message strictly:
// repeated keys, keys in another case than the field's JSON name, unknown
// keys and invalid UTF-8, which encoding/json alone accepts, are
// [*JSONError]s matching [ErrInvalidCommand].
//
// # Middleware and dispatch
//
// [Middleware] wraps every command a Handler handles: [Validate] rejects
// commands whose Validate method fails, and [Logging] writes one slog
// record per command. A [Dispatcher] routes commands by Go type to their
// handlers; HTTP handlers call [Dispatcher.Dispatch] synchronously, and
// adapters/watermillbus serves the same Dispatcher to asynchronous commands
// arriving over any Watermill pub/sub.
//
// # Snapshots
//
// With Options.Snapshots set, a Handler saves the encoded state to a
// [SnapshotStore] as its [SnapshotPolicy] says (by default every 100
// events) and later loads only the events after the snapshot. A snapshot
// records the schema version of the state's shape; raise
// Snapshots.SchemaVersion whenever the state type or Evolve changes, and
// older snapshots are ignored instead of loading a stale shape. Snapshots
// are a cache: when one fails to load or save, the Handler logs a warning
// and reads the whole stream.
//
// # Personal data
//
// Fields of an event tagged `eventfold:"pii,subject=F"` can be encrypted
// with a key per subject (the value of field F) by handing the Registry a
// [ShreddingCodec] over a [KeyStore] (memstore.NewKeys, pgstore.NewKeys).
// Forgetting a subject's key makes those fields unreadable everywhere the
// log is read, including projections rebuilt later, while the rest of each
// event stays intact; a Handler over such a Registry seals its snapshots
// under the same keys, so they are forgotten too. [Forget] is the call an
// application makes: it deletes the key and appends a [SubjectForgotten]
// event that projections' forget hooks (projection.OnForget) apply to their
// read models. docs/commands.md, "Forgetting personal data".
//
// # Tenants
//
// The adapters' snapshot and key stores hold several tenants. Their
// capabilities [SnapshotTenantScoper] and [KeyTenantScoper] give a
// tenant's view, reached with [SnapshotsForTenant] and [KeysForTenant]
// (or the adapters' own ForTenant methods, which return concrete types).
// [As] is the one place the package asks for a capability; it follows a
// decorator's As method as eventstore.As does.
//
// # Errors
//
// Errors are checked with errors.Is against [ErrUnknownEventType],
// [ErrInvalidCommand], [ErrNoRoute], [ErrIdempotencyUnsupported],
// [ErrKeyReused], [ErrRejected], [ErrSnapshotNotFound], and the eventstore
// sentinels (a conflict that
// outlasts the retries matches eventstore.ErrConcurrency).
package command
