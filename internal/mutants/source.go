package mutants

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

var sourceBugs = []bug{
	{name: "skips-every-fifth", breaks: "drops every fifth record it reads"},
	{name: "swaps-pairs", breaks: "returns the records of a batch in pairs swapped"},
	{name: "ignores-after", breaks: "Open reads from the start whatever position it is given"},
	{name: "repeats-after", breaks: "Open returns the event at after again"},
	{name: "between-refused", breaks: "Next fails after a position no event holds"},
	{name: "blocks-when-idle", breaks: "Next waits for a record instead of reporting an idle log"},
	{name: "ignores-ctx", breaks: "Next ignores its context while the log is idle"},
	{name: "resumes-after-delivered", breaks: "Open resumes after the last record handed out, not the position it is given"},
	{name: "head-lags", breaks: "Head reports the event before the last"},
	{name: "hidden-head", breaks: "has a head the suite is not told about", undeclared: "Head"},
}

// NewSource returns a fresh log and a Source over it with m's bug: a
// projection.LogSource over memstore with one fault switched on.
func (m Mutant) NewSource() (eventstore.Store, projection.Source) {
	store := memstore.New(nil)
	return store, &source{bug: m.Name, store: store, inner: projection.LogSource(store, nil)}
}

type source struct {
	bug   string
	store *memstore.Store
	inner projection.Source

	mu        sync.Mutex
	delivered eventstore.Position // the last position any feed handed out
}

func (s *source) Open(ctx context.Context, after eventstore.Position) (projection.Feed, error) {
	s.mu.Lock()
	switch s.bug {
	case "source/ignores-after":
		after = eventstore.Position{}
	case "source/resumes-after-delivered":
		if after.Before(s.delivered) {
			after = s.delivered
		}
	}
	s.mu.Unlock()
	f := &feed{src: s, after: after}
	if s.bug == "source/repeats-after" && !after.IsZero() {
		recs, err := s.store.ReadAll(ctx, eventstore.Position{}, 0)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.Position == after {
				f.extra = append(f.extra, r)
			}
		}
	}
	inner, err := s.inner.Open(ctx, after)
	f.inner = inner
	return f, err
}

func (s *source) Head(ctx context.Context) (eventstore.Position, error) {
	if s.bug != "source/head-lags" {
		return s.store.Head(ctx)
	}
	recs, err := s.store.ReadAll(ctx, eventstore.Position{}, 0)
	if err != nil || len(recs) < 2 {
		return eventstore.Position{}, err
	}
	return recs[len(recs)-2].Position, nil
}

type feed struct {
	src   *source
	inner projection.Feed
	after eventstore.Position
	extra []eventstore.Record // handed out before the inner feed's
	read  int
}

func (f *feed) Next(ctx context.Context, max int) ([]eventstore.Record, error) {
	if len(f.extra) > 0 {
		recs := f.extra
		f.extra = nil
		return recs, nil
	}
	if f.src.bug == "source/between-refused" && !f.after.IsZero() {
		if !f.holds(ctx, f.after) {
			return nil, errors.New("mutant: no event at the position opened after")
		}
	}
	recs, err := f.nextInner(ctx, max)
	if err != nil || len(recs) == 0 {
		return recs, err
	}
	f.src.mu.Lock()
	if last := recs[len(recs)-1].Position; f.src.delivered.Before(last) {
		f.src.delivered = last
	}
	f.src.mu.Unlock()
	return f.mangle(recs), nil
}

// nextInner reads the inner feed; the blocking bugs keep reading while
// it reports an idle log.
func (f *feed) nextInner(ctx context.Context, max int) ([]eventstore.Record, error) {
	if f.src.bug == "source/ignores-ctx" {
		ctx = context.WithoutCancel(ctx)
	}
	for {
		recs, err := f.inner.Next(ctx, max)
		if err != nil || len(recs) > 0 {
			return recs, err
		}
		switch f.src.bug {
		case "source/blocks-when-idle", "source/ignores-ctx":
		default:
			return nil, nil
		}
	}
}

func (f *feed) mangle(recs []eventstore.Record) []eventstore.Record {
	switch f.src.bug {
	case "source/skips-every-fifth":
		var kept []eventstore.Record
		for _, r := range recs {
			f.read++
			if f.read%5 != 0 {
				kept = append(kept, r)
			}
		}
		return kept
	case "source/swaps-pairs":
		recs = slices.Clone(recs)
		for i := 0; i+1 < len(recs); i += 2 {
			recs[i], recs[i+1] = recs[i+1], recs[i]
		}
	}
	return recs
}

func (f *feed) holds(ctx context.Context, pos eventstore.Position) bool {
	recs, err := f.src.store.ReadAll(ctx, eventstore.Position{}, 0)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(recs, func(r eventstore.Record) bool { return r.Position == pos })
}

func (f *feed) Commit(ctx context.Context, pos eventstore.Position) error {
	return f.inner.Commit(ctx, pos)
}

func (f *feed) Close() error { return f.inner.Close() }
