package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// ack is one append a writer got a success for, possibly after retrying
// it with the same event IDs.
type ack struct {
	stream  string
	events  []eventstore.Event
	ids     []string
	res     eventstore.AppendResult
	retries int
}

// writers append to their own streams until stop is closed, and retry a
// failed append with the same event IDs until it succeeds.
type writers struct {
	store *pgstore.Store
	stop  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	acks    []ack
	errs    int
	sample  []string
	unclear []string
	failed  []string // appends that never succeeded
}

func startWriters(store *pgstore.Store, n, most int, pause time.Duration) *writers {
	w := &writers{store: store, stop: make(chan struct{})}
	for k := 0; k < n; k++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := 0; i < most; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				events := []eventstore.Event{added(i)}
				if i%3 == 0 {
					events = append(events, added(1))
				}
				w.append(fmt.Sprintf("w-%d", k), events)
				time.Sleep(pause)
			}
		}()
	}
	return w
}

// append appends events, retrying with the same event IDs for up to 30
// seconds.
func (w *writers) append(stream string, events []eventstore.Event) {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	deadline := time.Now().Add(30 * time.Second)
	backoff := 20 * time.Millisecond
	for retries := 0; ; retries++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := w.store.Append(ctx, stream, eventstore.Any, events)
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acks = append(w.acks, ack{stream: stream, events: events, ids: ids, res: res, retries: retries})
			w.mu.Unlock()
			return
		}
		w.errs++
		if len(w.sample) < 5 {
			w.sample = append(w.sample, err.Error())
		}
		// A clear error names the store and the stream it failed on.
		if !strings.HasPrefix(err.Error(), "pgstore: append to stream ") && len(w.unclear) < 5 {
			w.unclear = append(w.unclear, err.Error())
		}
		if time.Now().After(deadline) {
			w.failed = append(w.failed, fmt.Sprintf("%s %v: %v", stream, ids, err))
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		time.Sleep(backoff)
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

// finish stops the writers and returns the last acknowledged position.
func (w *writers) finish() eventstore.Position {
	close(w.stop)
	w.wg.Wait()
	var last eventstore.Position
	for _, a := range w.acks {
		if last.Before(a.res.Position) {
			last = a.res.Position
		}
	}
	return last
}

// tailer reads the log like a projection does and keeps every record.
type tailer struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	recs []eventstore.Record
	errs int
}

func startTailer(t *testing.T, store *pgstore.Store) *tailer {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tl := &tailer{cancel: cancel, done: make(chan struct{})}
	feed, err := projection.LogSource(store, &projection.LogOptions{MaxPoll: 20 * time.Millisecond}).Open(ctx, eventstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(tl.done)
		for ctx.Err() == nil {
			recs, err := feed.Next(ctx, 100)
			tl.mu.Lock()
			if err != nil {
				tl.errs++
			}
			tl.recs = append(tl.recs, recs...)
			tl.mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-tl.done })
	return tl
}

func (tl *tailer) seen() []eventstore.Record {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]eventstore.Record(nil), tl.recs...)
}

// TestPostgresRestart stops PostgreSQL (fast shutdown: open transactions
// roll back, connections drop) for a second while writers append and a
// tailer and a projection runner read the log. Every append a writer was
// told succeeded is stored exactly once at the position it was given; a
// failed append reports an error naming the stream, and retrying it with
// the same event IDs stores it once (reporting Replayed when the first try
// had committed after all); the tailer sees every event once, in order; the
// read model equals the fold of the store.
func TestPostgresRestart(t *testing.T) {
	requireChaos(t)
	e := setup(t)
	t.Cleanup(e.pool.Reset) // drop connections that died with the server
	rn := startRunner(t, projection.LogSource(e.store, nil), e.rm, 50)
	var status statusLog
	ctx, stopWatch := context.WithCancel(t.Context())
	go status.watch(ctx, rn, 10*time.Millisecond)
	tl := startTailer(t, e.store)

	w := startWriters(e.store, 6, 2000, 2*time.Millisecond)
	time.Sleep(700 * time.Millisecond)
	restartService(t, postgresService, time.Second)
	time.Sleep(time.Second)
	last := w.finish()
	stopWatch()

	w.mu.Lock()
	acks, errs, failed := w.acks, w.errs, w.failed
	var retried, replayed int
	for _, a := range acks {
		if a.retries > 0 {
			retried++
		}
		if a.res.Replayed {
			replayed++
		}
	}
	t.Logf("%d appends acknowledged, %d errors, %d appends retried with the same event IDs (%d of them had committed: Replayed); sample errors: %q",
		len(acks), errs, retried, replayed, w.sample)
	if len(w.unclear) > 0 {
		t.Errorf("errors that do not name the store and stream: %q", w.unclear)
	}
	w.mu.Unlock()
	if len(failed) > 0 {
		t.Fatalf("appends that never succeeded after the restart: %q", failed)
	}
	if errs == 0 {
		t.Fatal("no writer saw the restart: the test did not test anything")
	}

	// Every acknowledged event is stored once, where the writer was told.
	_, stored := e.fold(t)
	ackedIDs := 0
	for _, a := range acks {
		for _, id := range a.ids {
			ackedIDs++
			if n := stored[id]; n != 1 {
				t.Errorf("acknowledged event %s (stream %s) is stored %d times", id, a.stream, n)
			}
		}
	}
	if len(stored) != ackedIDs {
		t.Errorf("the store holds %d events, but %d were acknowledged", len(stored), ackedIDs)
	}

	// The tailer resumed after its errors without skipping or repeating.
	if err := waitUntil(30*time.Second, func() bool { return len(tl.seen()) >= len(stored) }); err != nil {
		t.Errorf("tailer saw %d of %d events: %v", len(tl.seen()), len(stored), err)
	}
	recs := tl.seen()
	seen := map[string]bool{}
	for i, r := range recs {
		if seen[r.ID] {
			t.Errorf("tailer saw event %s twice", r.ID)
		}
		seen[r.ID] = true
		if i > 0 && !recs[i-1].Position.Before(r.Position) {
			t.Errorf("tailer saw %s after %s", r.Position, recs[i-1].Position)
		}
	}
	positions := map[string]eventstore.Position{}
	for _, r := range recs {
		positions[r.ID] = r.Position
	}
	for _, a := range acks {
		if got := positions[a.ids[len(a.ids)-1]]; got != a.res.Position {
			t.Errorf("append to %s acknowledged at %s, stored at %s", a.stream, a.res.Position, got)
		}
	}
	tl.mu.Lock()
	t.Logf("tailer: %d events, %d read errors while PostgreSQL was down", len(recs), tl.errs)
	tl.mu.Unlock()

	// A writer that lost the answer to an append that committed retries it
	// with the same event IDs: it gets the first result back, marked
	// Replayed, and nothing is stored twice.
	for i := 0; i < len(acks); i += len(acks)/20 + 1 {
		a := acks[i]
		res, err := e.store.Append(t.Context(), a.stream, eventstore.Any, a.events)
		if err != nil {
			t.Fatalf("append %v to %s again: %v", a.ids, a.stream, err)
		}
		if !res.Replayed || res.Position != a.res.Position || res.StreamVersion != a.res.StreamVersion {
			t.Errorf("append %v to %s again = %+v, want the first result %+v, replayed", a.ids, a.stream, res, a.res)
		}
	}

	e.check(t, last)
	t.Logf("runner: %s", &status)
}
