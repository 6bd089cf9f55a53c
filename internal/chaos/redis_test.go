package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// reader queries the tally read model the way a query service does, over
// and over, and sorts what it got.
type reader struct {
	notReady    int      // Active or WaitFor said ErrNotReady
	unavailable int      // Redis could not be reached
	ready       int      // a version answered
	stale       int      // WaitFor gave up with ErrStale while a version was active
	partial     []string // a ready answer below the head of the (static) log
	wrong       []string // documents that are no fold of the log at their checkpoint
	errs        []string
}

// TestRedisRestart restarts Redis, which keeps nothing on disk here, under
// a caught-up projection. The runner detects the loss through its epoch and
// rebuilds from the start of the log; meanwhile Active and WaitFor answer
// ErrNotReady (or a connection error while Redis is down), and every answer
// that is served as ready equals the fold of the log at the checkpoint read
// with it, which is the whole log. Afterwards the read model equals the
// fold, and new events are applied.
func TestRedisRestart(t *testing.T) {
	requireChaos(t)
	e := setup(t)
	const streams = 20
	var last eventstore.Position
	for i := 0; i < 100; i++ {
		events := make([]eventstore.Event, 40)
		for j := range events {
			events[j] = added(j)
		}
		res, err := e.store.Append(t.Context(), fmt.Sprintf("s-%d", i%streams), eventstore.Any, events)
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	// Small batches, so that rebuilding the 4,000 events takes a while.
	rn := startRunner(t, projection.LogSource(e.store, nil), e.rm, 10)
	e.check(t, last)

	var log []eventstore.Record
	for after := (eventstore.Position{}); ; {
		recs, err := e.store.ReadAll(t.Context(), after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		log = append(log, recs...)
		after = recs[len(recs)-1].Position
	}
	foldAt := func(p eventstore.Position) map[string]tally {
		want := map[string]tally{}
		for _, r := range log {
			if p.Before(r.Position) {
				break
			}
			var ev struct{ N int }
			_ = json.Unmarshal(r.Data, &ev)
			x := want[r.StreamID]
			x.Count++
			x.Sum += ev.N
			want[r.StreamID] = x
		}
		return want
	}
	ids := []string{"$checkpoint/0"}
	for i := 0; i < streams; i++ {
		ids = append(ids, fmt.Sprintf("s-%d", i))
	}

	var status statusLog
	var rd reader
	var mu sync.Mutex
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); status.watch(ctx, rn, 5*time.Millisecond) }()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			mu.Lock()
			rd.query(ctx, e, last, ids, foldAt)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()

	time.Sleep(200 * time.Millisecond)
	restartService(t, redisService, 500*time.Millisecond)
	restarted := time.Now()
	// The runner notices the loss within its idle epoch check (a second),
	// rebuilds and switches readers back on.
	if err := waitUntil(10*time.Second, func() bool { return !rn.Status().Active }); err != nil {
		t.Fatalf("runner did not notice that Redis lost its data: %v; %s", err, &status)
	}
	t.Logf("runner noticed the loss %v after Redis came back", time.Since(restarted).Round(time.Millisecond))
	if err := waitUntil(30*time.Second, func() bool {
		s := rn.Status()
		return s.Active && s.State == projection.StateRunning && s.Position == last
	}); err != nil {
		t.Fatalf("runner did not rebuild after the restart: %v; %s", err, &status)
	}
	t.Logf("rebuilt and serving again %v after Redis came back", time.Since(restarted).Round(time.Millisecond))
	time.Sleep(200 * time.Millisecond)
	stop()
	wg.Wait()

	t.Logf("runner: %s", &status)
	t.Logf("queries: %d ready, %d not ready, %d unavailable, %d stale; errors %q", rd.ready, rd.notReady, rd.unavailable, rd.stale, rd.errs)
	if len(rd.wrong) > 0 {
		t.Errorf("wrong data served: %q", rd.wrong)
	}
	if len(rd.partial) > 0 {
		t.Errorf("partial state served as ready: %q", rd.partial)
	}
	if rd.notReady == 0 {
		t.Error("no query saw the rebuild as not ready")
	}
	sawRebuild := false
	for _, s := range status.states {
		sawRebuild = sawRebuild || s == projection.StateRebuilding
	}
	if !sawRebuild {
		t.Errorf("the runner never reported %q: %s", projection.StateRebuilding, &status)
	}
	e.check(t, last)

	// The rebuilt projection keeps applying new events.
	res, err := e.store.Append(t.Context(), "after", eventstore.Any, []eventstore.Event{added(7)})
	if err != nil {
		t.Fatal(err)
	}
	e.check(t, res.Position)
}

// query asks the read model once, as a query service would, and checks
// the answer.
func (rd *reader) query(ctx context.Context, e *env, head eventstore.Position, ids []string, foldAt func(eventstore.Position) map[string]tally) {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	note := func(err error) {
		switch {
		case errors.Is(err, projection.ErrNotReady):
			rd.notReady++
		case errors.Is(err, projection.ErrStale):
			rd.stale++
		case ctx.Err() != nil:
		default:
			rd.unavailable++
			if len(rd.errs) < 5 {
				rd.errs = append(rd.errs, err.Error())
			}
		}
	}
	// Read-your-writes for the head: ready at once, or ErrNotReady.
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Millisecond)
	err := projection.WaitFor(wctx, e.rm, "tallies", "", head)
	wcancel()
	if err != nil {
		note(err)
	}
	ns, err := projection.Active(ctx, e.rm, "tallies", "")
	if err != nil {
		note(err)
		return
	}
	docs, err := e.rm.GetMany(ctx, ns, ids) // one consistent read
	if err != nil {
		note(err)
		return
	}
	rd.ready++
	var cp struct{ Position eventstore.Position }
	got := map[string]tally{}
	for _, d := range docs {
		if d.ID == ids[0] {
			if err := json.Unmarshal(d.Data, &cp); err != nil {
				rd.wrong = append(rd.wrong, fmt.Sprintf("checkpoint %s: %v", d.Data, err))
			}
			continue
		}
		var x tally
		if err := json.Unmarshal(d.Data, &x); err != nil {
			rd.wrong = append(rd.wrong, fmt.Sprintf("%s: %v", d.ID, err))
		}
		got[d.ID] = x
	}
	if diff := cmp.Diff(foldAt(cp.Position), got); diff != "" && len(rd.wrong) < 5 {
		rd.wrong = append(rd.wrong, fmt.Sprintf("at checkpoint %s (-fold +served):\n%s", cp.Position, diff))
	}
	if cp.Position != head && len(rd.partial) < 5 {
		rd.partial = append(rd.partial, fmt.Sprintf("%v at checkpoint %s, head %s", ns, cp.Position, head))
	}
}
