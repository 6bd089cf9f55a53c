package eventstore

import "context"

// Store appends events to streams and reads them back. Implementations are
// safe for concurrent use.
type Store interface {
	LogReader

	// Append atomically appends events, in order, to the stream if it is
	// where expected says; otherwise it stores nothing and returns a
	// *ConcurrencyError. On success it returns the stream's new version and
	// the position of the last event appended. Invalid input is rejected
	// with an *InvalidInputError before anything is written. A retry of an
	// earlier append with the same event IDs returns that append's result
	// and stores nothing (see the package doc). On cancellation either all
	// events are stored or none. Append does not retain events.
	Append(ctx context.Context, streamID string, expected ExpectedVersion, events []Event) (AppendResult, error)

	// ReadStream returns up to limit events of one stream in the given
	// direction, starting at version from (inclusive). A forward read from
	// 0 or 1 starts at the first event; a backward read from StreamEnd
	// starts at the last. A limit of 0 means no limit. A stream with no
	// events fails with ErrStreamNotFound; reading past either end of an
	// existing stream returns no records and no error.
	ReadStream(ctx context.Context, streamID string, from int64, dir Direction, limit int) ([]Record, error)
}

// LogReader reads the global log. Every Store is one; the reader of every
// tenant's events (AllTenants) is one and nothing more: it cannot append
// or read a stream, as a stream belongs to one tenant.
type LogReader interface {
	// ReadAll returns up to limit events of the global log that come after
	// the position after, in log order. A limit of 0 means an
	// implementation-chosen batch size. ReadAll never returns an event
	// while an event ordered before it may still appear: once a caller has
	// seen position p, no event ordered before p is ever stored. An empty
	// result means nothing more is visible yet.
	ReadAll(ctx context.Context, after Position, limit int) ([]Record, error)
}

// AppendResult is the outcome of a successful Append.
type AppendResult struct {
	// StreamVersion is the version of the stream's last event after the
	// append.
	StreamVersion int64
	// Position is the global position of the last event appended: the
	// consistency token a query can wait for.
	Position Position
	// Replayed is true when the append had been done before (same event IDs,
	// or same command key) and this call stored nothing.
	Replayed bool
}
