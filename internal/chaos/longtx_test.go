package chaos_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// TestLongTransaction holds a write transaction that appended an event
// open for two seconds while other appends commit. The runner must not
// pass the open transaction (it would skip its event), so its Position
// stays behind the acknowledged appends until the commit, then it catches
// up and the read model equals the fold. It logs what Status showed of the
// lag meanwhile (see docs/reliability-faults.md: today nothing).
func TestLongTransaction(t *testing.T) {
	requireChaos(t)
	e := setup(t)
	rn := startRunner(t, projection.LogSource(e.store, nil), e.rm, 50)
	first, err := e.store.Append(t.Context(), "first", eventstore.Any, []eventstore.Event{added(1), added(2)})
	if err != nil {
		t.Fatal(err)
	}
	e.check(t, first.Position)

	tx, err := e.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	inTx, err := pgstore.New(tx, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := inTx.Append(t.Context(), "slow", eventstore.Any, []eventstore.Event{added(1000)})
	if err != nil {
		t.Fatal(err)
	}
	w := startWriters(e.store, 2, 1000, 10*time.Millisecond)

	type sample struct {
		at time.Time
		s  projection.Status
	}
	var mu sync.Mutex
	var samples []sample
	ctx, stopSampling := context.WithCancel(t.Context())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			mu.Lock()
			samples = append(samples, sample{time.Now(), rn.Status()})
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	held := time.Now()
	time.Sleep(2 * time.Second)
	last := w.finish()
	committed := time.Now()
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("held the transaction open for %v; %d appends committed meanwhile, up to %s; the held event is at %s",
		committed.Sub(held).Round(time.Millisecond), len(w.acks), last, slow.Position)
	e.check(t, last)
	caughtUp := time.Now()
	time.Sleep(50 * time.Millisecond)
	stopSampling()
	<-sampled

	var (
		holding, after       []projection.Status
		maxLagEvents         uint64
		maxLagTime           time.Duration
		statesHeld, statesAf []projection.State
	)
	addState := func(list []projection.State, s projection.State) []projection.State {
		if len(list) == 0 || list[len(list)-1] != s {
			list = append(list, s)
		}
		return list
	}
	for _, sm := range samples {
		switch {
		case sm.at.After(held) && sm.at.Before(committed):
			holding = append(holding, sm.s)
			statesHeld = addState(statesHeld, sm.s.State)
			maxLagEvents = max(maxLagEvents, sm.s.LagEvents)
			maxLagTime = max(maxLagTime, sm.s.LagTime)
			if !sm.s.Position.Before(slow.Position) {
				t.Errorf("while the transaction was open the runner applied up to %s, past its event at %s", sm.s.Position, slow.Position)
			}
		case sm.at.After(committed):
			after = append(after, sm.s)
			statesAf = addState(statesAf, sm.s.State)
		}
	}
	var afterLagTime time.Duration
	var afterLagEvents uint64
	for _, s := range after {
		afterLagTime = max(afterLagTime, s.LagTime)
		afterLagEvents = max(afterLagEvents, s.LagEvents)
	}
	t.Logf("while held (%d samples): states %q, max LagEvents %d, max LagTime %v", len(holding), statesHeld, maxLagEvents, maxLagTime)
	t.Logf("after the commit (%d samples, caught up in %v): states %q, max LagEvents %d, max LagTime %v",
		len(after), caughtUp.Sub(committed).Round(time.Millisecond), statesAf, afterLagEvents, afterLagTime)
	if len(holding) == 0 {
		t.Fatal("no status sampled while the transaction was open")
	}
	if maxLagEvents == 0 || maxLagTime == 0 {
		t.Errorf("Status showed no lag while a transaction held the log back (max lag %d events, %v)", maxLagEvents, maxLagTime)
	}
	if s := rn.Status(); s.Position != last && s.Position.Before(last) {
		t.Errorf("after the commit the runner is at %s, want %s", s.Position, last)
	}
}
