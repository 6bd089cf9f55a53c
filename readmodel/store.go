package readmodel

import (
	"context"
	"strconv"
)

// Reader is the read-only side of a read-model store: what query code gets.
// It can read documents, query indexes and look at a namespace's state, and
// nothing else. Implementations are safe for concurrent use. Methods never
// retain their arguments, and returned slices belong to the caller.
type Reader interface {
	// Get returns the document id of ns. A document that was never written
	// or was deleted fails with an error matching ErrNotFound.
	Get(ctx context.Context, ns Namespace, id string) (Document, error)

	// GetMany returns, in one round trip, the documents of ns named by ids
	// that exist, in the order of ids; missing IDs are left out, and an ID
	// listed twice is returned twice. The documents are read from one
	// consistent state: never from the middle of a Batch.
	GetMany(ctx context.Context, ns Namespace, ids []string) ([]Document, error)

	// Query returns one page of the documents of ns found through a
	// secondary index, in index order (see Query). An index that has no
	// entries, including one no write ever named, gives an empty page.
	// Index entries and documents are read from one consistent state.
	Query(ctx context.Context, ns Namespace, q Query) (Page, error)

	// State returns the namespace's checkpoint and whether any Batch has
	// been applied to it since it was created or last dropped. A namespace
	// the store has lost (for example a Redis restart without persistence)
	// reports Initialized false.
	State(ctx context.Context, ns Namespace) (State, error)
}

// Writer is the write side of a read-model store, used by projections.
// Implementations are safe for concurrent use.
type Writer interface {
	// Apply atomically applies a batch of writes to the documents of ns,
	// together with their index entries, and, if b.Checkpoint is not
	// empty, stores it as the namespace's checkpoint. Either everything in
	// the batch takes effect or nothing does, and readers never see a part
	// of it. Writes are applied in order; each one is ignored when the
	// stored document (or its tombstone) already carries the same or a
	// later Revision, and Result.Stale lists those writes. Ignored writes
	// do not stop the checkpoint from being stored. Apply also marks the
	// namespace initialized, even for an empty batch. Invalid input fails
	// with an error matching ErrInvalidInput before anything is written.
	Apply(ctx context.Context, ns Namespace, b Batch) (Result, error)

	// Drop deletes every document, index entry, tombstone and the
	// checkpoint of ns, so that State reports it uninitialized. Drop is not
	// atomic: it first removes the namespace's state, then everything else,
	// and must not run while a projection writes to ns. Other namespaces
	// are untouched. Dropping an empty namespace is not an error.
	Drop(ctx context.Context, ns Namespace) error
}

// Store is a read-model store: a Reader and a Writer. Give query code only
// the Reader, preferably wrapped with ReadOnly.
type Store interface {
	Reader
	Writer
}

// Namespace names a set of documents: those of one projection, at one
// version of its read model, for one tenant, and, for a read model spread
// over partitions (see Partitioned), one partition of it. Namespaces never
// share documents, indexes or checkpoints, whatever characters their fields
// hold. Everything in one namespace can be updated in one atomic Batch; in
// Redis Cluster that means one namespace lives in one hash slot.
type Namespace struct {
	// Projection names the projection that owns the documents. Required.
	Projection string
	// Version is the read model's version, so that a rebuild can write a
	// new version beside the one being served. May be empty.
	Version string
	// Tenant isolates one tenant's documents. Empty means no tenant.
	Tenant string
	// Partition names one partition of a read model spread over several,
	// each a namespace of its own (see Partitioned and WithPartition).
	// Empty for a read model kept whole.
	Partition string
}

// WithPartition returns the namespace of partition k of ns spread over n
// partitions. Its Partition is "k/n": a read model spread over another
// number of partitions lives in other namespaces, and a store can place
// the partitions evenly (redisstore gives partition k a hash slot in the
// k-th of n equal ranges of slots).
func (ns Namespace) WithPartition(k, n int) Namespace {
	ns.Partition = strconv.Itoa(k) + "/" + strconv.Itoa(n)
	return ns
}

// String formats ns for messages. It is not an encoding: different
// namespaces may format alike.
func (ns Namespace) String() string {
	s := ns.Projection
	if ns.Version != "" {
		s += "@" + ns.Version
	}
	if ns.Tenant != "" {
		s += "/" + ns.Tenant
	}
	if ns.Partition != "" {
		s += "#" + ns.Partition
	}
	return strconv.Quote(s)
}

// Revision is the point in the event history a write reflects; the version
// guard compares it. It is a pair compared as a tuple, so it holds either of
// eventfold's orderings:
//
//   - a global position: readmodel.Revision(record.Position) converts an
//     eventstore.Position directly, as the two types have the same fields;
//   - a stream version: readmodel.Revision{Sequence: uint64(record.Version)}.
//
// Use one of them consistently for the documents of a namespace. The zero
// Revision is not a valid write revision.
type Revision struct {
	Commit   uint64
	Sequence uint64
}

// Compare returns -1, 0 or +1 as r is before, equal to or after s.
func (r Revision) Compare(s Revision) int {
	switch {
	case r.Commit < s.Commit:
		return -1
	case r.Commit > s.Commit:
		return 1
	case r.Sequence < s.Sequence:
		return -1
	case r.Sequence > s.Sequence:
		return 1
	}
	return 0
}

// IsZero reports whether r is the zero Revision.
func (r Revision) IsZero() bool { return r == Revision{} }

// String formats r as "commit-sequence".
func (r Revision) String() string {
	return strconv.FormatUint(r.Commit, 10) + "-" + strconv.FormatUint(r.Sequence, 10)
}

// Document is a stored document.
type Document struct {
	ID string
	// Data is the encoded document, as written.
	Data []byte
	// Revision is the revision of the write that stored Data.
	Revision Revision
}

// Write is one change in a Batch: a put or a delete of one document. Model
// builds Writes from typed documents.
type Write struct {
	// ID names the document within its namespace. Required; any bytes.
	ID string
	// Revision is what the write reflects; must not be zero. The write is
	// ignored when the document already carries this or a later revision.
	Revision Revision
	// Delete makes the write a delete. A delete leaves a tombstone holding
	// Revision, so an older put delivered late cannot bring the document
	// back. Data and Entries must then be empty.
	Delete bool
	// Data is the encoded document to store.
	Data []byte
	// Entries are the document's index entries. They replace the entries
	// of the document's previous version, in every index.
	Entries []Entry
}

// Entry places a document in a secondary index under a value. A document
// may have several entries in one index (a list of tags, say); it is then
// found once for each.
type Entry struct {
	Index string
	Value Value
}

// Batch is what Apply commits atomically.
type Batch struct {
	// Writes are applied in order; a later write to the same document sees
	// the effect of an earlier one. Apply does not retain the slice.
	Writes []Write
	// Checkpoint, when not empty, replaces the namespace's checkpoint: an
	// opaque value (a projection stores the position it has applied).
	// Empty leaves the stored checkpoint as it is.
	Checkpoint string
	// IfCheckpoint, when not nil, makes the batch conditional: Apply
	// writes nothing and fails with an error matching
	// ErrCheckpointMismatch unless the namespace's stored checkpoint equals
	// *IfCheckpoint ("" for none, as in a namespace never written, dropped
	// or lost). Projections use it to fence out a stale writer and to
	// notice a store that lost its data.
	IfCheckpoint *string
}

// Result reports what Apply did.
type Result struct {
	// Applied counts the writes that took effect.
	Applied int
	// Stale lists, in increasing order, the indexes in Batch.Writes of the
	// writes the version guard ignored.
	Stale []int
}

// State describes a namespace.
type State struct {
	// Initialized is true once a Batch has been applied to the namespace,
	// until it is dropped or the store loses it.
	Initialized bool
	// Checkpoint is the last non-empty Batch.Checkpoint applied, or empty.
	Checkpoint string
}

// Query selects entries of one secondary index, in order of (value,
// document ID), and returns their documents. Entries are ordered by value
// (see Value for the order of each kind), then by document ID byte-wise.
//
// Min and Max bound the values, both inclusive; a zero Value leaves that
// side unbounded, so a Query with neither lists the whole index. Equal,
// Between and All build the usual queries.
type Query struct {
	// Index names the index. Required.
	Index string
	// Min and Max are inclusive bounds on the entries' values.
	Min, Max Value
	// Limit is the most documents a page holds. Zero means DefaultLimit;
	// it may not exceed MaxLimit.
	Limit int
	// Cursor continues a previous query: pass the Page.Next it returned,
	// with the same other fields. Empty starts at the beginning.
	Cursor string
	// Descending reverses the order.
	Descending bool
}

// Limits on Query.Limit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Equal returns a query for the entries of index whose value is v.
func Equal(index string, v Value) Query { return Query{Index: index, Min: v, Max: v} }

// Between returns a query for the entries of index whose value is between
// min and max, inclusive. A zero Value leaves that side unbounded.
func Between(index string, min, max Value) Query { return Query{Index: index, Min: min, Max: max} }

// All returns a query listing every entry of index.
func All(index string) Query { return Query{Index: index} }

// Page is one page of a Query's results.
type Page struct {
	// Documents are in index order.
	Documents []Document
	// Entries holds, for each of Documents, the index entry it was found
	// under (an EntryKey), so that pages of several partitions can be
	// merged in index order.
	Entries []string
	// Next is the cursor for the following page, or empty when this page
	// is the last. A page may be full and still be the last.
	Next string
}

// ReadOnly returns a Reader that serves reads from r and exposes nothing
// else, so that a query side handed a Store cannot recover its write
// methods with a type assertion.
func ReadOnly(r Reader) Reader {
	if ro, ok := r.(readOnly); ok {
		return ro
	}
	return readOnly{r}
}

type readOnly struct{ r Reader }

func (ro readOnly) Get(ctx context.Context, ns Namespace, id string) (Document, error) {
	return ro.r.Get(ctx, ns, id)
}

func (ro readOnly) GetMany(ctx context.Context, ns Namespace, ids []string) ([]Document, error) {
	return ro.r.GetMany(ctx, ns, ids)
}

func (ro readOnly) Query(ctx context.Context, ns Namespace, q Query) (Page, error) {
	return ro.r.Query(ctx, ns, q)
}

func (ro readOnly) State(ctx context.Context, ns Namespace) (State, error) {
	return ro.r.State(ctx, ns)
}
