package eventstore

import (
	"context"
	"slices"
	"strings"
)

// Filter selects events of the global log by type and by stream ID prefix
// (a stream category, such as "order-"). An event matches when its type is
// one of Types and its stream ID starts with one of StreamPrefixes; an
// empty list places no condition. The zero Filter matches every event.
type Filter struct {
	// Types lists the event types to keep.
	Types []string
	// StreamPrefixes lists the stream ID prefixes to keep.
	StreamPrefixes []string
}

// Matches reports whether rec is selected by f.
func (f Filter) Matches(rec Record) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, rec.Type) {
		return false
	}
	if len(f.StreamPrefixes) == 0 {
		return true
	}
	for _, p := range f.StreamPrefixes {
		if strings.HasPrefix(rec.StreamID, p) {
			return true
		}
	}
	return false
}

// FilteredPage is one page of a filtered read of the global log.
type FilteredPage struct {
	// Records are the matching events after the position asked for, in
	// log order.
	Records []Record
	// Through is how far the read has scanned the log: every matching
	// event ordered after the position asked for and up to Through is in
	// Records, and no event ordered before Through is ever stored later.
	// It is at or after the last record's position and never before the
	// position asked for; it moves past events that do not match, so a
	// reader that resumes after Through neither misses an event nor scans
	// a stretch of the log twice. It equals the position asked for when
	// nothing new is visible.
	Through Position
}

// FilteredReader is the capability of logs that can be read filtered on
// the store's side, served by an index where the store has one. Reach it
// with [As], or call [ReadAllFiltered].
type FilteredReader interface {
	// ReadAllFiltered returns up to limit events matching f that come
	// after the position after, in log order, and the position the read
	// has scanned through (see FilteredPage). A limit of 0 means an
	// implementation-chosen batch size. It keeps ReadAll's promise: it
	// never returns an event, nor a Through position, past an event that
	// may still commit, and it returns at once, with Through moved on,
	// when no visible event matches.
	ReadAllFiltered(ctx context.Context, after Position, f Filter, limit int) (FilteredPage, error)
}

// ReadAllFiltered reads r's global log filtered by f (see FilteredReader);
// r is a Store, a LogReader, or anything wrapping one. It fails with an
// error matching errors.ErrUnsupported when r has no FilteredReader.
func ReadAllFiltered(ctx context.Context, r LogReader, after Position, f Filter, limit int) (FilteredPage, error) {
	fr, ok := As[FilteredReader](r)
	if !ok {
		return FilteredPage{}, unsupported(r, "has no filtered reads")
	}
	return fr.ReadAllFiltered(ctx, after, f, limit)
}
