package projectiontest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

// Scenario is a given/then test of a projection: given these events, then
// the read model holds these documents. The events are encoded with the
// projection's own registry, so the scenario checks the projection exactly
// as the command side's events reach it, and it runs the projection in a
// real Runner (batches, decoding, checkpoints) into the read-model store it
// is given: memstore.NewReadModels in unit tests, redisstore against Redis.
// Build it with [For]; a Scenario is for one goroutine.
type Scenario struct {
	t       testing.TB
	p       *projection.Projection
	store   *recordingStore
	recs    []eventstore.Record
	version map[string]int64
	applied int // how many of recs the read model holds
}

// For starts a scenario for p over store, which should be empty. p must
// have its registry (projection.New) if the scenario gives events as Go
// values.
func For(t testing.TB, p *projection.Projection, store readmodel.Store) *Scenario {
	t.Helper()
	if err := p.Err(); err != nil {
		t.Fatalf("projectiontest: projection %s: %v", p.Name(), err)
	}
	return &Scenario{t: t, p: p, store: &recordingStore{Store: store, ids: map[readmodel.Namespace]map[string]bool{}}, version: map[string]int64{}}
}

// Given appends events to streamID, after the stream's earlier given
// events: each is a Go value encoded with the projection's registry, or an
// eventstore.Event stored as it is (for events written by older versions
// or other tools). It may be called several times, before or between
// checks.
func (s *Scenario) Given(streamID string, events ...any) *Scenario {
	s.t.Helper()
	for _, e := range events {
		ev, ok := e.(eventstore.Event)
		if !ok {
			reg := s.p.Registry()
			if reg == nil {
				s.t.Fatalf("projectiontest: Given(%q, %T): the projection has no registry to encode it", streamID, e)
			}
			var err error
			if ev, err = reg.Encode(e); err != nil {
				s.t.Fatalf("projectiontest: Given(%q): %v", streamID, err)
			}
		}
		if ev.ID == "" {
			ev.ID = eventstore.NewEventID()
		}
		s.version[streamID]++
		n := uint64(len(s.recs) + 1)
		s.recs = append(s.recs, eventstore.Record{
			ID: ev.ID, StreamID: streamID, Type: ev.Type, Data: ev.Data, ContentType: ev.ContentType,
			Metadata: ev.Metadata, Version: s.version[streamID],
			Position: eventstore.Position{Commit: n, Sequence: n}, RecordedAt: time.Now().UTC(),
		})
	}
	return s
}

// Run applies the given events not applied yet and fails the test if the
// projection faults on one. The Then functions call it.
func (s *Scenario) Run() {
	s.t.Helper()
	if s.applied == len(s.recs) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := projection.NewRunner(projection.Config{Projection: s.p, Source: sliceSource{s.recs}, Store: s.store, MaxAttempts: 1})
	if err != nil {
		s.t.Fatalf("projectiontest: %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() { stop(); <-done }()
	last := s.recs[len(s.recs)-1].Position
	for {
		st := r.Status()
		if f := st.Fault; f != nil && !f.Event.Position.IsZero() {
			s.t.Fatalf("projectiontest: projection %s faulted on event %d (%s, stream %q): %s",
				s.p.Name(), slices.IndexFunc(s.recs, func(r eventstore.Record) bool { return r.Position == f.Event.Position })+1,
				f.Event.Type, f.Event.StreamID, f.Err)
		}
		if !st.Position.Before(last) {
			s.applied = len(s.recs)
			return
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("projectiontest: projection %s did not apply the given events: %+v", s.p.Name(), st)
		case <-time.After(time.Millisecond):
		}
	}
}

// ThenDocuments fails the test unless the documents of model m that the
// projection wrote and did not delete are exactly want, by document ID.
// opts are go-cmp options, for example cmpopts.IgnoreFields for
// timestamps.
func ThenDocuments[T any](s *Scenario, m readmodel.Model[T], want map[string]T, opts ...cmp.Option) {
	s.t.Helper()
	s.Run()
	got := Documents(s, m)
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		s.t.Errorf("projection %s: documents differ (-want +got):\n%s", s.p.Name(), diff)
	}
}

// Documents returns the documents of model m that the projection wrote and
// did not delete, by ID, after applying the given events.
func Documents[T any](s *Scenario, m readmodel.Model[T]) map[string]T {
	s.t.Helper()
	s.Run()
	ctx := context.Background()
	ns := s.p.Namespace("")
	ids := s.store.written(ns)
	items, err := m.View(s.store, ns).GetMany(ctx, ids)
	if err != nil {
		s.t.Fatalf("projectiontest: read documents: %v", err)
	}
	got := make(map[string]T, len(items))
	for _, it := range items {
		got[it.ID] = it.Doc
	}
	return got
}

// recordingStore remembers the IDs of the documents written to each
// namespace, so that a scenario can read them all back.
type recordingStore struct {
	readmodel.Store
	mu  sync.Mutex
	ids map[readmodel.Namespace]map[string]bool
}

func (r *recordingStore) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	res, err := r.Store.Apply(ctx, ns, b)
	if err == nil {
		r.mu.Lock()
		if r.ids[ns] == nil {
			r.ids[ns] = map[string]bool{}
		}
		for _, w := range b.Writes {
			// The Runner's own documents are not the projection's.
			if !wire.Reserved(w.ID) {
				r.ids[ns][w.ID] = true
			}
		}
		r.mu.Unlock()
	}
	return res, err
}

func (r *recordingStore) written(ns readmodel.Namespace) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.ids[ns]))
	for id := range r.ids[ns] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// sliceSource delivers a fixed log.
type sliceSource struct{ recs []eventstore.Record }

func (s sliceSource) Open(_ context.Context, after eventstore.Position) (projection.Feed, error) {
	i, _ := slices.BinarySearchFunc(s.recs, after, func(r eventstore.Record, p eventstore.Position) int {
		return r.Position.Compare(p)
	})
	for i < len(s.recs) && !after.Before(s.recs[i].Position) {
		i++
	}
	return &sliceFeed{recs: s.recs[i:]}, nil
}

type sliceFeed struct{ recs []eventstore.Record }

func (f *sliceFeed) Next(ctx context.Context, max int) ([]eventstore.Record, error) {
	if len(f.recs) == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
			return nil, nil
		}
	}
	n := min(max, len(f.recs))
	out := slices.Clone(f.recs[:n])
	f.recs = f.recs[n:]
	return out, nil
}

func (f *sliceFeed) Commit(context.Context, eventstore.Position) error { return nil }
func (f *sliceFeed) Close() error                                      { return nil }
