package projectiontest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// SourceConfig describes the projection.Source under test.
type SourceConfig struct {
	// New returns an empty log and a Source over it, isolated from every
	// other call. It is called once per subtest and registers its own
	// cleanup with t.Cleanup. For a source that reads a broker it also
	// starts whatever carries the log to the broker (a relay).
	New func(t testing.TB) (eventstore.Store, projection.Source)
	// Redelivers says a feed may return records at or before the last one
	// it returned, or at or before the position it was opened after (a
	// broker that sends a topic again from its start, or sends
	// uncommitted messages again). The suite then skips them, as a Runner
	// does; otherwise such a record fails the suite.
	Redelivers bool
	// LiveOnly says the source delivers only the events appended while a
	// feed is open: its broker keeps nothing for a subscriber that is not
	// there. The suite then skips the subtests that open a feed over
	// events appended before (Open/*, Resume).
	LiveOnly bool
	// Timeout bounds each wait for events to arrive. Zero means 30 seconds.
	Timeout time.Duration
}

// idleBound is how long an idle Next may block before it must report
// having caught up; the Feed contract says a few hundred milliseconds.
const idleBound = 2 * time.Second

// RunSource runs the conformance suite for a projection.Source as
// parallel subtests of t.
func RunSource(t *testing.T, cfg SourceConfig) {
	if cfg.New == nil {
		t.Fatal("projectiontest: SourceConfig.New is nil")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tests := []struct {
		name    string
		fn      func(t *testing.T, cfg SourceConfig)
		needLog bool // opens a feed over events appended before
	}{
		{"Delivers/ExactlyOnceInOrderWhileAppending", testSourceDelivers, false},
		{"Open/FromStart", testSourceFromStart, true},
		{"Open/AfterMiddle", testSourceAfterMiddle, true},
		{"Open/BetweenEvents", testSourceBetweenEvents, true},
		{"Idle/ThenNewEvents", testSourceIdle, false},
		{"Resume/AfterCommitAndClose", testSourceResume, true},
		{"Next/Cancelled", testSourceCancelled, false},
		{"Head", testSourceHead, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.needLog && cfg.LiveOnly {
				t.Skip("SourceConfig.LiveOnly: the source does not deliver events appended before a feed opens")
			}
			tc.fn(t, cfg)
		})
	}
}

// feedReader reads a feed as a Runner does: it drops records at or
// before the last one seen, when the source may redeliver, and commits
// after each batch.
type feedReader struct {
	t      *testing.T
	cfg    SourceConfig
	feed   projection.Feed
	last   eventstore.Position
	got    []eventstore.Record
	commit bool
}

// openFeed opens a feed with the test's context, which lasts as long as
// the feed, as a Runner opens one with its run context (a source may end
// the feed with it).
func openFeed(t *testing.T, cfg SourceConfig, src projection.Source, after eventstore.Position) *feedReader {
	t.Helper()
	type result struct {
		feed projection.Feed
		err  error
	}
	done := make(chan result, 1)
	go func() {
		feed, err := src.Open(t.Context(), after)
		done <- result{feed, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(cfg.Timeout):
		t.Fatalf("Open(after %s) did not return within %s", after, cfg.Timeout)
	}
	if res.err != nil {
		t.Fatalf("Open(after %s): %v", after, res.err)
	}
	feed := res.feed
	t.Cleanup(func() { feed.Close() }) //nolint:errcheck // closed again after a test's own Close
	return &feedReader{t: t, cfg: cfg, feed: feed, last: after, commit: true}
}

// next calls Next once, failing the test if it does not return within
// bound (plus a grace period: ctx carries the bound) or returns an error.
func (r *feedReader) next(max int, bound time.Duration) []eventstore.Record {
	r.t.Helper()
	recs, err := callNext(r.t, r.feed, r.t.Context(), max, bound)
	if err != nil {
		r.t.Fatalf("Next(max %d): %v", max, err)
	}
	if max > 0 && len(recs) > max {
		r.t.Errorf("Next(max %d) returned %d records", max, len(recs))
	}
	var fresh []eventstore.Record
	for _, rec := range recs {
		if !r.last.Before(rec.Position) {
			if !r.cfg.Redelivers {
				r.t.Fatalf("Next returned event %s at %s, not after %s, the last position seen (set SourceConfig.Redelivers if the source may redeliver)",
					rec.ID, rec.Position, r.last)
			}
			continue
		}
		r.last = rec.Position
		fresh = append(fresh, rec)
	}
	r.got = append(r.got, fresh...)
	if r.commit && len(recs) > 0 {
		if err := r.feed.Commit(r.t.Context(), r.last); err != nil {
			r.t.Fatalf("Commit(%s): %v", r.last, err)
		}
	}
	return fresh
}

// callNext runs Next with a context bounded by bound and fails the test
// if Next ignores it.
func callNext(t *testing.T, feed projection.Feed, parent context.Context, max int, bound time.Duration) ([]eventstore.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(parent, bound)
	defer cancel()
	type result struct {
		recs []eventstore.Record
		err  error
	}
	done := make(chan result, 1)
	go func() {
		recs, err := feed.Next(ctx, max)
		done <- result{recs, err}
	}()
	grace := time.NewTimer(bound + 5*time.Second)
	defer grace.Stop()
	select {
	case res := <-done:
		if res.err != nil && ctx.Err() != nil && parent.Err() == nil && errors.Is(res.err, ctx.Err()) {
			return nil, nil // the bound of this call ran out: nothing arrived
		}
		return res.recs, res.err
	case <-grace.C:
		t.Fatalf("Next(max %d) did not return %s after its context ended: it must honour ctx", max, 5*time.Second)
		return nil, nil
	}
}

// readUntil reads until want records were seen or cfg.Timeout passes,
// with max cycling through small values.
func (r *feedReader) readUntil(want int) {
	r.t.Helper()
	r.readUntilMax(want, 1, 2, 3, 5)
}

func (r *feedReader) readUntilMax(want int, maxes ...int) {
	r.t.Helper()
	deadline := time.Now().Add(r.cfg.Timeout)
	for i := 0; len(r.got) < want; i++ {
		if time.Now().After(deadline) {
			r.t.Fatalf("after %s the feed delivered %d of %d events (last at %s)", r.cfg.Timeout, len(r.got), want, r.last)
		}
		r.next(maxes[i%len(maxes)], idleBound)
	}
}

func appendN(t *testing.T, store eventstore.Store, stream string, n int) []eventstore.AppendResult {
	t.Helper()
	out := make([]eventstore.AppendResult, n)
	for i := range out {
		res, err := store.Append(t.Context(), stream, eventstore.Any,
			[]eventstore.Event{{ID: eventstore.NewEventID(), Type: "Counted", Data: fmt.Appendf(nil, `{"n":%d}`, i)}})
		if err != nil {
			t.Fatalf("Append to %q: %v", stream, err)
		}
		out[i] = res
	}
	return out
}

// logOf reads the whole log, waiting until it holds at least n events.
func logOf(t *testing.T, cfg SourceConfig, store eventstore.Store, n int) []eventstore.Record {
	t.Helper()
	deadline := time.Now().Add(cfg.Timeout)
	for {
		log, err := ReadLog(t.Context(), store)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if len(log) >= n {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log shows %d of %d appended events after %s", len(log), n, cfg.Timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ids(recs []eventstore.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID + "@" + r.Position.String()
	}
	return out
}

func checkSame(t *testing.T, what string, want, got []eventstore.Record) {
	t.Helper()
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Errorf("%s: the feed's events differ from the log (-log +feed, ID@position):\n%s", what, diff)
	}
}

// testSourceDelivers reads with small max values while writers append
// batches to several streams: every event arrives once, in log order.
func testSourceDelivers(t *testing.T, cfg SourceConfig) {
	store, src := cfg.New(t)
	r := openFeed(t, cfg, src, eventstore.Position{})
	const writers, appends = 3, 12
	total := 0
	for i := range appends {
		total += writers * (1 + i%3)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range appends {
				events := make([]eventstore.Event, 1+i%3)
				for j := range events {
					events[j] = eventstore.Event{ID: eventstore.NewEventID(), Type: "Counted", Data: fmt.Appendf(nil, `{"n":%d}`, i)}
				}
				if _, err := store.Append(t.Context(), fmt.Sprintf("writer-%d", w), eventstore.Any, events); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	r.readUntil(total)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkSame(t, "concurrent appends", logOf(t, cfg, store, total), r.got)
}

func testSourceFromStart(t *testing.T, cfg SourceConfig) {
	store, src := cfg.New(t)
	appendN(t, store, "s", 5)
	log := logOf(t, cfg, store, 5)
	r := openFeed(t, cfg, src, eventstore.Position{})
	r.readUntil(len(log))
	checkSame(t, "Open(after zero)", log, r.got)
}

func testSourceAfterMiddle(t *testing.T, cfg SourceConfig) {
	store, src := cfg.New(t)
	appendN(t, store, "s", 6)
	log := logOf(t, cfg, store, 6)
	r := openFeed(t, cfg, src, log[2].Position)
	r.readUntil(len(log) - 3)
	checkSame(t, fmt.Sprintf("Open(after %s, the third event)", log[2].Position), log[3:], r.got)
}

// testSourceBetweenEvents opens a feed after a position that no event
// has, between the third and fourth.
func testSourceBetweenEvents(t *testing.T, cfg SourceConfig) {
	store, src := cfg.New(t)
	appendN(t, store, "s", 6)
	log := logOf(t, cfg, store, 6)
	between, ok := positionBetween(log[2].Position, log[3].Position)
	if !ok {
		t.Fatalf("no position lies between %s and %s; the store packs its positions too tightly for this test", log[2].Position, log[3].Position)
	}
	r := openFeed(t, cfg, src, between)
	r.readUntil(len(log) - 3)
	checkSame(t, fmt.Sprintf("Open(after %s, between %s and %s)", between, log[2].Position, log[3].Position), log[3:], r.got)
}

func positionBetween(a, b eventstore.Position) (eventstore.Position, bool) {
	for _, p := range []eventstore.Position{{Commit: a.Commit, Sequence: a.Sequence + 1}, {Commit: a.Commit + 1}} {
		if a.Before(p) && p.Before(b) {
			return p, true
		}
	}
	return eventstore.Position{}, false
}

// testSourceIdle reads an idle feed: Next reports having caught up
// within idleBound, twice, then returns an event appended afterwards.
func testSourceIdle(t *testing.T, cfg SourceConfig) {
	store, src := cfg.New(t)
	r := openFeed(t, cfg, src, eventstore.Position{})
	appendN(t, store, "before", 2)
	r.readUntil(2)
	for i := range 2 {
		start := time.Now()
		recs, err := callNext(t, r.feed, t.Context(), 10, idleBound)
		if err != nil {
			t.Fatalf("idle Next %d: %v", i+1, err)
		}
		if len(recs) > 0 && !cfg.Redelivers {
			t.Fatalf("idle Next %d returned %d records, want none", i+1, len(recs))
		}
		if took := time.Since(start); took >= idleBound {
			t.Fatalf("idle Next %d blocked %s: it must return no records within a few hundred milliseconds when nothing is new", i+1, took.Round(time.Millisecond))
		}
	}
	appendN(t, store, "after", 1)
	r.readUntil(3)
	checkSame(t, "events appended before and after the feed went idle", logOf(t, cfg, store, 3), r.got)
}

// testSourceResume reads three events, committing them, then at least
// one more without committing it, closes the feed and opens another
// after the third: it delivers the rest, including the event handed out
// but not committed and two events appended while no feed was open.
func testSourceResume(t *testing.T, cfg SourceConfig) {
	store, src := cfg.New(t)
	appendN(t, store, "s", 6)
	first := openFeed(t, cfg, src, eventstore.Position{})
	first.readUntilMax(3, 1)
	committed := first.got[2].Position
	if err := first.feed.Commit(t.Context(), committed); err != nil {
		t.Fatalf("Commit(%s): %v", committed, err)
	}
	first.commit = false
	first.readUntilMax(4, 1)
	if err := first.feed.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	appendN(t, store, "s", 2)
	log := logOf(t, cfg, store, 8)
	second := openFeed(t, cfg, src, committed)
	second.readUntil(5)
	checkSame(t, fmt.Sprintf("Open(after %s, committed) after Close", committed), log[3:], second.got)
}

// testSourceCancelled calls Next on an idle feed with a cancelled
// context, and with one cancelled while Next waits: each returns
// promptly with ctx's error or no records.
func testSourceCancelled(t *testing.T, cfg SourceConfig) {
	store, src := cfg.New(t)
	r := openFeed(t, cfg, src, eventstore.Position{})
	appendN(t, store, "s", 1)
	r.readUntil(1)
	check := func(what string, ctx context.Context, cancelAfter time.Duration, cancel context.CancelFunc) {
		t.Helper()
		time.AfterFunc(cancelAfter, cancel)
		done := make(chan error, 1)
		var n int
		go func() {
			recs, err := r.feed.Next(ctx, 10)
			n = len(recs)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Next with %s: %v, want no error or one matching context.Canceled", what, err)
			}
			if err == nil && n > 0 && !cfg.Redelivers {
				t.Errorf("Next with %s on an idle feed returned %d records", what, n)
			}
		case <-time.After(cancelAfter + idleBound):
			t.Fatalf("Next with %s did not return within %s", what, cancelAfter+idleBound)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check("a cancelled context", ctx, 0, cancel)
	for range 3 {
		ctx, cancel = context.WithCancel(t.Context())
		check("a context cancelled while it waits", ctx, 50*time.Millisecond, cancel)
	}
}

// testSourceHead checks that a source with an eventstore.HeadReader (its
// own, or the store's that a LogSource unwraps to) reports the last
// appended position, unless Head returns an error matching
// errors.ErrUnsupported.
func testSourceHead(t *testing.T, cfg SourceConfig) {
	store, src := cfg.New(t)
	head, ok := eventstore.As[eventstore.HeadReader](src)
	if !ok {
		t.Skip("the source has no eventstore.HeadReader")
	}
	results := appendN(t, store, "s", 3)
	want := results[len(results)-1].Position
	deadline := time.Now().Add(cfg.Timeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), cfg.Timeout)
		got, err := head.Head(ctx)
		cancel()
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skipf("the source has an eventstore.HeadReader but reports: %v", err)
		}
		if err != nil {
			t.Fatalf("Head: %v", err)
		}
		if got == want {
			return
		}
		if want.Before(got) {
			t.Fatalf("Head = %s, past the last appended position %s", got, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Head = %s after %s, want the last appended position %s", got, cfg.Timeout, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
