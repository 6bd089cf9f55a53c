package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// TestFilteredRunnerWaitsForHeldAppend runs a projection of one type over
// PostgreSQL, which reads the log filtered by that type, while an append
// of that type is held open and later appends of every type commit: the
// Runner's checkpoint stays before the held event however far the other
// events go, and once it commits the Runner applies it, then the later
// one, and its checkpoint reaches the head of the log.
func TestFilteredRunnerWaitsForHeldAppend(t *testing.T) {
	store := newStore(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ev := func(typ string, n int) []eventstore.Event {
		return []eventstore.Event{{Type: typ, Data: fmt.Appendf(nil, `{"n":%d}`, n)}}
	}
	before, err := store.Append(ctx, "before", eventstore.NoStream, ev("Hit", 0))
	if err != nil {
		t.Fatal(err)
	}
	held, commit, err := pgstore.HoldAppend(ctx, store, "slow", ev("Hit", 1))
	if err != nil {
		t.Fatal(err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = commit()
		}
	}()
	var head eventstore.Position
	for i := range 30 {
		typ, stream := "Miss", fmt.Sprintf("miss-%d", i)
		if i == 15 {
			typ, stream = "Hit", "fast"
		}
		res, err := store.Append(ctx, stream, eventstore.NoStream, ev(typ, i))
		if err != nil {
			t.Fatal(err)
		}
		head = res.Position
	}

	rm := memstore.NewReadModels(nil)
	p := projection.New("hits", "1", nil).On("Hit", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		tx.Put(rec.StreamID, rec.Data)
		return nil
	})
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(store, nil), Store: rm, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := projection.WaitFor(ctx, rm, "hits", "", before.Position); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if pos := r.Status().Position; !pos.Before(held.Position) {
			t.Fatalf("while the append at %v is open, the Runner's checkpoint is %v", held.Position, pos)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := rm.Get(ctx, p.Namespace(""), "fast"); err == nil {
		t.Fatal("the Runner applied the later event while the held one was open")
	}

	if err := commit(); err != nil {
		t.Fatal(err)
	}
	committed = true
	if err := projection.WaitFor(ctx, rm, "hits", "", head); err != nil {
		t.Fatalf("the Runner did not reach the head %v: %v (status %+v)", head, err, r.Status())
	}
	for _, id := range []string{"before", "slow", "fast"} {
		if _, err := rm.Get(ctx, p.Namespace(""), id); err != nil {
			t.Errorf("document %s: %v", id, err)
		}
	}
	cps, err := projectionops.Checkpoints(ctx, rm, "hits", "")
	if err != nil || len(cps) != 1 || cps[0] != head {
		t.Errorf("checkpoints = %v, %v; want the head %v", cps, err, head)
	}
}
