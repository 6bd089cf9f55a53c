package memstore_test

import (
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/eventstore/eventstoretest"
)

func TestEventStoreConformance(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Config{
		New:      func(t testing.TB) eventstore.Store { return memstore.New(nil) },
		Features: eventstoretest.Features{Keyed: true, Outcomes: true, Head: true, Notify: true, Tenants: true, Filtered: true, Lifecycle: true, Reclaim: true, Archive: true},
	})
}

func TestHead(t *testing.T) {
	s := memstore.New(nil)
	if p, err := s.Head(t.Context()); err != nil || !p.IsZero() {
		t.Fatalf("Head of an empty store = %v, %v", p, err)
	}
	res, err := s.Append(t.Context(), "s", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Head(t.Context()); err != nil || p != res.Position {
		t.Errorf("Head = %v, %v; want %v", p, err, res.Position)
	}
}

// Refusals recorded under command keys are pruned with the keys.
func TestPruneCommandKeysPrunesRefusals(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memstore.New(&memstore.Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	key := eventstore.CommandKey{Key: "k", Hash: "h"}
	if _, err := s.RecordRefusal(ctx, key, "s", eventstore.Refusal{Message: "no"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneCommandKeys(ctx, now); err != nil || n != 0 {
		t.Fatalf("PruneCommandKeys(now) = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneCommandKeys(ctx, now.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("PruneCommandKeys(later) = %d, %v; want 1", n, err)
	}
	if _, ok, err := s.LookupKey(ctx, "k"); ok || err != nil {
		t.Errorf("LookupKey after pruning = %v, %v; want not found", ok, err)
	}
}
