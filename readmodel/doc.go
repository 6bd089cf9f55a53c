// Package readmodel defines the read-model port of eventfold: the document
// store that projections write and queries read. Queries are served from it
// alone, never from the event store.
//
// The package holds interfaces, value types, the validation and encodings
// every implementation shares, and a typed layer on top. Implementations
// live under adapters/: adapters/redisstore for Redis and adapters/memstore
// (ReadModels), the in-memory reference. Every implementation passes the
// conformance suite in readmodel/readmodeltest.
//
// # Documents and namespaces
//
// A document is an ID and opaque bytes. Documents live in a [Namespace]: a
// projection, the version of its read model (a rebuild writes a new version
// beside the one being served) and an optional tenant. Namespaces never
// share anything, whatever bytes their fields or the document IDs hold.
//
// [Model] is the typed layer: it encodes documents of one Go type (JSON by
// default, any [Codec] otherwise), declares their secondary indexes, builds
// [Write] values from documents and, through [Model.View], reads them back
// typed.
//
// # Batches and the version guard
//
// [Writer.Apply] commits a [Batch] atomically: puts and deletes of any
// documents of one namespace, their index entries, and an opaque checkpoint
// string. A projection applies the writes for a run of events together with
// the position it has reached, so a crash never leaves the read model and
// its checkpoint disagreeing.
//
// Every write carries the [Revision] it reflects: a global position or a
// stream version. A write is ignored when the stored document already
// carries the same or a later revision, and [Result.Stale] says which
// writes were ignored. Redelivered, replayed or reordered events therefore
// never move a document backwards. Deletes leave a tombstone with their
// revision for the same reason; tombstones are removed only by
// [Writer.Drop].
//
// # Indexes and queries
//
// A write lists its document's index [Entry] values, and they replace the
// entries of the document's previous version, so no index ever points at a
// stale value. An index orders entries by [Value] (numbers, times or
// strings, in an order-preserving encoding), then by document ID. A [Query]
// reads one index: an exact match ([Equal]), an inclusive range ([Between])
// or a full listing ([All]), ascending or descending, in pages of at most
// Limit documents. [Page.Next] is a cursor that names a position in the
// index rather than an offset, so paging stays correct while documents are
// added, moved or removed.
//
// # Reading only
//
// Query code receives a [Reader] (wrapped with [ReadOnly] so that it cannot
// be converted back into a [Store]), or a [View] built on one. Nothing on the
// read side reaches the event store or PostgreSQL.
//
// # State, data loss and rebuilds
//
// [Reader.State] reports a namespace's checkpoint and whether any batch was
// ever applied to it. Apply marks the namespace initialized in the same
// atomic step as its writes, so a namespace that reports Initialized false
// after having been written was dropped or lost by the store (a Redis
// restart without persistence, a flushed database) and must be rebuilt.
// [Writer.Drop] deletes a namespace, for example the old version after a
// rebuild.
//
// # Atomicity and Redis Cluster
//
// Everything in one namespace can be committed atomically, which in Redis
// Cluster requires every key of a namespace to live in one hash slot. A
// read model that outgrows one node is spread over partitions:
// [Partitioned] keeps document id in the namespace
// ns.WithPartition([PartitionOf](id, n), n), each partition on a slot of its
// own, commits atomically per partition, routes Get to one partition and
// merges queries over all of them in index order. Projections write the
// partitions directly (projection.Config.Spread). See adapters/redisstore
// and docs/read-models.md.
//
// # Errors
//
// Errors are checked with errors.Is against [ErrNotFound] and
// [ErrInvalidInput]. [InvalidInputError] names the rejected field; a
// [DecodeError] reports a stored document the Codec could not read. Backend
// errors are wrapped and stay reachable with errors.As.
//
// # Writing an adapter
//
// Adapters validate with [Namespace.Validate], [Batch.Validate] and
// [ValidateID], store index entries as [EntryKey] byte strings (compared
// byte-wise), resolve a query with [Query.Span] and [Query.PageSize], and
// make page cursors with [Cursor]. Passing readmodeltest.Run is what makes
// an adapter correct.
package readmodel
