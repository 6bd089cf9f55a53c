package projection

import (
	"context"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

// Source delivers the global log to a Runner. LogSource reads an event
// store directly; adapters/watermillbus reads it from any Watermill
// subscriber.
type Source interface {
	// Open starts delivering the log after position after.
	Open(ctx context.Context, after eventstore.Position) (Feed, error)
}

// Feed is one open delivery of the log.
type Feed interface {
	// Next returns up to max records, in log order, each after the one
	// before. When nothing is available it returns no records to tell the
	// caller it has caught up: at once the first time, then at most every
	// few hundred milliseconds while the log stays idle. It may return records the Runner
	// has applied already (it skips them).
	Next(ctx context.Context, max int) ([]eventstore.Record, error)
	// Commit reports that every record up to and including pos is durably
	// applied, so a feed backed by a broker may acknowledge them.
	Commit(ctx context.Context, pos eventstore.Position) error
	// Close ends the feed.
	Close() error
}

// LogOptions configures LogSource. The zero value means the defaults.
type LogOptions struct {
	// MinPoll is the first wait after an empty read. Default 1ms.
	MinPoll time.Duration
	// MaxPoll is the longest wait between reads while the log is idle;
	// waits double from MinPoll up to it. Default 250ms. A store with an
	// eventstore.Notifier
	// cuts the wait short after an append in this process.
	MaxPoll time.Duration
}

// LogSource returns a Source that tails the global log of store (a Store,
// a tenant view or an all-tenants reader) with ReadAll: adaptive polling
// with short, read-only statements, woken early by the store's
// eventstore.Notifier when it has one. It holds nothing open between
// reads. The source unwraps to store, so eventstore.As finds store's
// capabilities on it: a Runner reports lag with its eventstore.HeadReader.
func LogSource(store eventstore.LogReader, opts *LogOptions) Source {
	s := &logSource{store: store}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MinPoll <= 0 {
		s.opts.MinPoll = time.Millisecond
	}
	if s.opts.MaxPoll <= 0 {
		s.opts.MaxPoll = 250 * time.Millisecond
	}
	s.notifier, _ = eventstore.As[eventstore.Notifier](store)
	s.filtered, _ = eventstore.As[eventstore.FilteredReader](store)
	return s
}

type logSource struct {
	store    eventstore.LogReader
	opts     LogOptions
	notifier eventstore.Notifier
	filtered eventstore.FilteredReader
}

// filteredSource is implemented by sources that can deliver only the
// events of some types: LogSource over an eventstore.FilteredReader. A
// Runner opens them with the types its projection handles, so the store
// skips the rest, and commits the feed's scanned position (scannedFeed)
// so that its checkpoint moves past them.
type filteredSource interface {
	openFiltered(ctx context.Context, after eventstore.Position, types []string) (Feed, bool)
}

// scannedFeed is implemented by feeds that read the log filtered: scanned
// is how far they have read it, at or after the last record returned.
type scannedFeed interface {
	scanned() eventstore.Position
}

// openFiltered implements filteredSource when the store reads filtered.
func (s *logSource) openFiltered(ctx context.Context, after eventstore.Position, types []string) (Feed, bool) {
	if s.filtered == nil || len(types) == 0 {
		return nil, false
	}
	return &logFeed{src: s, after: after, filter: &eventstore.Filter{Types: types}}, true
}

func (s *logSource) Open(ctx context.Context, after eventstore.Position) (Feed, error) {
	return &logFeed{src: s, after: after}, nil
}

// Unwrap returns the log the source reads, so that eventstore.As finds its
// capabilities (HeadReader, AllTenantsView) on the source.
func (s *logSource) Unwrap() eventstore.LogReader { return s.store }

type logFeed struct {
	src    *logSource
	after  eventstore.Position
	filter *eventstore.Filter // nil: the whole log
	idle   bool               // an empty result was returned since the last records
	idleAt time.Time          // when
}

func (f *logFeed) Next(ctx context.Context, max int) ([]eventstore.Record, error) {
	wait := f.src.opts.MinPoll
	for {
		var changed <-chan struct{}
		if f.src.notifier != nil {
			changed = f.src.notifier.Changed() // before the read, so no append is missed
		}
		recs, through, err := f.read(ctx, max)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			f.after = through
			f.idle = false
			return recs, nil
		}
		// Events a filter skipped: nothing to apply, but the feed has read
		// through them (scanned), and the Runner commits that when Next
		// returns, at the pace of the idle returns below.
		f.after = through
		// Tell the caller it has caught up: at once, then now and then
		// while nothing new becomes visible (an open transaction can hold
		// the log back while appends keep waking this loop).
		if !f.idle || time.Since(f.idleAt) >= f.src.opts.MaxPoll {
			f.idle, f.idleAt = true, time.Now()
			return nil, nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-changed:
			timer.Stop()
			wait = f.src.opts.MinPoll
			continue
		case <-timer.C:
		}
		wait = min(wait*2, f.src.opts.MaxPoll)
	}
}

// read reads the next records and the position read through.
func (f *logFeed) read(ctx context.Context, max int) ([]eventstore.Record, eventstore.Position, error) {
	if f.filter == nil {
		recs, err := f.src.store.ReadAll(ctx, f.after, max)
		if err != nil || len(recs) == 0 {
			return nil, f.after, err
		}
		return recs, recs[len(recs)-1].Position, nil
	}
	page, err := f.src.filtered.ReadAllFiltered(ctx, f.after, *f.filter, max)
	return page.Records, page.Through, err
}

// scanned implements scannedFeed: the position the feed has read through.
func (f *logFeed) scanned() eventstore.Position { return f.after }

func (f *logFeed) Commit(context.Context, eventstore.Position) error { return nil }
func (f *logFeed) Close() error                                      { return nil }
