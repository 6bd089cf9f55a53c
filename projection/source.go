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
	return s
}

type logSource struct {
	store    eventstore.LogReader
	opts     LogOptions
	notifier eventstore.Notifier
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
	idle   bool      // an empty result was returned since the last records
	idleAt time.Time // when
}

func (f *logFeed) Next(ctx context.Context, max int) ([]eventstore.Record, error) {
	wait := f.src.opts.MinPoll
	for {
		var changed <-chan struct{}
		if f.src.notifier != nil {
			changed = f.src.notifier.Changed() // before the read, so no append is missed
		}
		recs, err := f.src.store.ReadAll(ctx, f.after, max)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			f.after = recs[len(recs)-1].Position
			f.idle = false
			return recs, nil
		}
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

func (f *logFeed) Commit(context.Context, eventstore.Position) error { return nil }
func (f *logFeed) Close() error                                      { return nil }
