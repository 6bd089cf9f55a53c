package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/eventstore/eventstoretest"
	"github.com/eventfold/eventfold/internal/testenv"
)

func groupOptions(inFlight int) *pgstore.Options {
	return &pgstore.Options{GroupCommit: pgstore.GroupCommit{Enabled: true, MaxInFlight: inFlight}}
}

func TestConformanceGroupCommit(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Config{
		New:        func(t testing.TB) eventstore.Store { return newStore(t, groupOptions(0)) },
		ForTenant:  forTenant,
		AllTenants: func(s eventstore.Store) eventstore.Store { return s.(*pgstore.Store).AllTenants() },
	})
}

func TestGroupCommitOptionsValidated(t *testing.T) {
	pool, _ := testenv.Schema(t)
	_, err := pgstore.New(pool, &pgstore.Options{GroupCommit: pgstore.GroupCommit{Enabled: true, MaxBatch: -1, MaxInFlight: -1}})
	if err == nil {
		t.Fatal("New with negative GroupCommit limits succeeded")
	}
}

// outcome is what one caller of Append got.
type outcome struct {
	stream   string
	expected eventstore.ExpectedVersion
	events   []eventstore.Event
	res      eventstore.AppendResult
	err      error
	replay   *eventstore.AppendResult // the stored result this append repeats, if it is a retry
	dupe     bool                     // reuses an ID of another stream's append
}

// TestGroupCommitConcurrentOutcomes has 16 goroutines append at once: new
// streams, exact versions on shared streams (most of them conflict), Any on
// one shared stream, retries of stored appends and reused IDs. Every
// caller's outcome must match what the store holds, and the global log must
// be complete and ordered.
func TestGroupCommitConcurrentOutcomes(t *testing.T) {
	for _, inFlight := range []int{1, 2} {
		t.Run(fmt.Sprintf("in flight %d", inFlight), func(t *testing.T) {
			t.Parallel()
			testConcurrentOutcomes(t, newStore(t, groupOptions(inFlight)))
		})
	}
}

func testConcurrentOutcomes(t *testing.T, s *pgstore.Store) {
	ctx := t.Context()
	const writers, rounds = 16, 30
	event := func(w, i, k int) eventstore.Event {
		return eventstore.Event{ID: eventstore.NewEventID(), Type: "E", Data: fmt.Appendf(nil, `{"w":%d,"i":%d,"k":%d}`, w, i, k)}
	}
	// Appends stored beforehand, to be retried.
	type stored struct {
		stream string
		events []eventstore.Event
		res    eventstore.AppendResult
	}
	var earlier []stored
	for i := range 8 {
		st := stored{stream: fmt.Sprintf("earlier-%d", i), events: []eventstore.Event{event(-1, i, 0), event(-1, i, 1)}}
		res, err := s.Append(ctx, st.stream, eventstore.NoStream, st.events)
		if err != nil {
			t.Fatal(err)
		}
		st.res = res
		earlier = append(earlier, st)
	}
	storedEvents := 16

	outs := make([][]outcome, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			seen := map[string]int64{} // the version this writer last saw per shared stream
			for i := range rounds {
				var o outcome
				switch (w + i) % 5 {
				case 0: // a new stream
					o.stream, o.expected = fmt.Sprintf("own-%d-%d", w, i), eventstore.NoStream
					o.events = []eventstore.Event{event(w, i, 0), event(w, i, 1)}[:1+i%2]
				case 1: // an exact version on a shared stream
					o.stream = fmt.Sprintf("shared-%d", i%3)
					o.expected = eventstore.Exact(seen[o.stream])
					o.events = []eventstore.Event{event(w, i, 0)}
				case 2: // Any on one shared stream
					o.stream, o.expected = "shared-any", eventstore.Any
					o.events = []eventstore.Event{event(w, i, 0), event(w, i, 1)}
				case 3: // a retry of a stored append, with a stale expected version
					e := earlier[(w+i)%len(earlier)]
					o.stream, o.expected, o.events = e.stream, eventstore.NoStream, e.events
					o.replay = &e.res
				case 4: // a stored ID reused on another stream
					e := earlier[(w+i)%len(earlier)]
					o.stream, o.expected = fmt.Sprintf("thief-%d-%d", w, i), eventstore.Any
					o.events = []eventstore.Event{event(w, i, 0), e.events[1]}
					o.dupe = true
				}
				o.res, o.err = s.Append(ctx, o.stream, o.expected, o.events)
				var ce *eventstore.ConcurrencyError
				if errors.As(o.err, &ce) {
					seen[o.stream] = ce.Actual
				} else if o.err == nil {
					seen[o.stream] = o.res.StreamVersion
				}
				outs[w] = append(outs[w], o)
			}
		}()
	}
	close(start)
	wg.Wait()

	// The expected events, by ID, from the callers' outcomes.
	type want struct {
		stream  string
		version int64
		pos     *eventstore.Position // for an append's last event
	}
	wantByID := map[string]want{}
	for _, e := range earlier {
		for k, ev := range e.events {
			wantByID[ev.ID] = want{stream: e.stream, version: e.res.StreamVersion - int64(len(e.events)-1-k)}
		}
	}
	commits := map[uint64]int{}
	for w := range outs {
		for _, o := range outs[w] {
			name := fmt.Sprintf("Append(%q, %v)", o.stream, o.expected)
			switch {
			case o.replay != nil:
				want := *o.replay
				want.Replayed = true
				if o.err != nil || o.res != want {
					t.Errorf("%s retry = %+v, %v; want %+v", name, o.res, o.err, want)
				}
			case o.dupe:
				if !errors.Is(o.err, eventstore.ErrDuplicateEvent) {
					t.Errorf("%s reusing an ID = %v, want ErrDuplicateEvent", name, o.err)
				}
			case o.err != nil:
				var ce *eventstore.ConcurrencyError
				if o.stream[:6] != "shared" || !errors.As(o.err, &ce) || ce.Actual == int64(o.expected) {
					t.Errorf("%s = %v", name, o.err)
				}
			default:
				if o.res.Replayed {
					t.Errorf("%s = %+v, a replay of a new append", name, o.res)
				}
				if o.expected == eventstore.NoStream && o.res.StreamVersion != int64(len(o.events)) {
					t.Errorf("%s = version %d, want %d", name, o.res.StreamVersion, len(o.events))
				}
				if o.expected >= 0 && o.res.StreamVersion != int64(o.expected)+int64(len(o.events)) {
					t.Errorf("%s = version %d, want %d", name, o.res.StreamVersion, int64(o.expected)+int64(len(o.events)))
				}
				commits[o.res.Position.Commit]++
				storedEvents += len(o.events)
				for k, ev := range o.events {
					wt := want{stream: o.stream, version: o.res.StreamVersion - int64(len(o.events)-1-k)}
					if k == len(o.events)-1 {
						wt.pos = &o.res.Position
					}
					wantByID[ev.ID] = wt
				}
			}
		}
	}
	grouped := false
	for _, n := range commits {
		grouped = grouped || n > 1
	}
	t.Logf("commits %d, grouped %v", len(commits), grouped)
	if !grouped {
		t.Error("no two appends shared a transaction: nothing was grouped")
	}

	all := readAll(t, s, storedEvents)
	checkGlobalLog(t, all)
	if len(all) != storedEvents || len(all) != len(wantByID) {
		t.Errorf("global log has %d events; callers stored %d (%d IDs)", len(all), storedEvents, len(wantByID))
	}
	for _, r := range all {
		wt, ok := wantByID[r.ID]
		switch {
		case !ok:
			t.Errorf("event %s (%s@%d) is stored but no caller was told so", r.ID, r.StreamID, r.Version)
		case wt.stream != r.StreamID || wt.version != r.Version:
			t.Errorf("event %s is %s@%d, its caller was told %s@%d", r.ID, r.StreamID, r.Version, wt.stream, wt.version)
		case wt.pos != nil && *wt.pos != r.Position:
			t.Errorf("event %s is at %v, its caller was told %v", r.ID, r.Position, *wt.pos)
		}
	}
}

// readAll tails the whole log until it holds want events or 30s pass.
func readAll(t *testing.T, s *pgstore.Store, want int) []eventstore.Record {
	t.Helper()
	var all []eventstore.Record
	var after eventstore.Position
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs, err := s.ReadAll(t.Context(), after, 0)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
		if len(recs) > 0 {
			after = recs[len(recs)-1].Position
			continue
		}
		if len(all) >= want || time.Now().After(deadline) {
			return all
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkGlobalLog checks that positions strictly increase, that no event
// appears twice and that each stream's versions follow 1, 2, 3... along the
// log.
func checkGlobalLog(t *testing.T, all []eventstore.Record) {
	t.Helper()
	ids := map[string]bool{}
	versions := map[string]int64{}
	for i, r := range all {
		if i > 0 && !all[i-1].Position.Before(r.Position) {
			t.Errorf("log entry %d at %v is not after %v", i, r.Position, all[i-1].Position)
		}
		if ids[r.ID] {
			t.Errorf("event %s appears twice", r.ID)
		}
		ids[r.ID] = true
		if r.Version != versions[r.StreamID]+1 {
			t.Errorf("stream %q: version %d follows %d in the log", r.StreamID, r.Version, versions[r.StreamID])
		}
		versions[r.StreamID] = r.Version
	}
}

// TestGroupCommitGapSafety holds a transaction with an event open while
// grouped appends commit: a tailer must not pass it, and once it commits
// must see every event once, in order.
func TestGroupCommitGapSafety(t *testing.T) {
	pool, schema := testenv.Schema(t)
	opts := groupOptions(0)
	opts.Schema = schema
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	one := func(n int) []eventstore.Event {
		return []eventstore.Event{{Type: "E", Data: fmt.Appendf(nil, `{"n":%d}`, n)}}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	// Never grouped: it is built on a pgx.Tx.
	inTx, err := pgstore.New(tx, opts)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := inTx.Append(ctx, "slow", eventstore.Any, one(0))
	if err != nil {
		t.Fatal(err)
	}

	const writers, rounds = 16, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if _, err := s.Append(ctx, fmt.Sprintf("fast-%d", w), eventstore.Exact(int64(i)), one(i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs, err := s.ReadAll(ctx, eventstore.Position{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 && !recs[len(recs)-1].Position.Before(slow.Position) {
		t.Fatalf("while a transaction was open the tailer reached %v, past its %v", recs[len(recs)-1].Position, slow.Position)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	all := readAll(t, s, writers*rounds+1)
	if len(all) != writers*rounds+1 {
		t.Fatalf("the log has %d events, want %d", len(all), writers*rounds+1)
	}
	checkGlobalLog(t, all)
	if all[0].StreamID != "slow" {
		t.Errorf("the open transaction's event is not first in the log")
	}
}

// TestGroupCommitCancelled cancels callers while their appends are queued
// or in flight. Each returns its ctx error or its result, and a retry with
// the same event IDs settles whether the append was stored.
func TestGroupCommitCancelled(t *testing.T) {
	s := newStore(t, groupOptions(0))
	const writers = 16
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("c-%d", w)
			events := []eventstore.Event{{ID: eventstore.NewEventID(), Type: "E", Data: []byte(`{}`)}}
			ctx, cancel := context.WithTimeout(t.Context(), time.Duration(w*50)*time.Microsecond)
			began := time.Now()
			_, err := s.Append(ctx, stream, eventstore.NoStream, events)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Append(%q) = %v, want a result or the ctx error", stream, err)
			}
			if err != nil && time.Since(began) > time.Second {
				t.Errorf("Append(%q) took %v to return the ctx error", stream, time.Since(began))
			}
			res, err := s.Append(t.Context(), stream, eventstore.NoStream, events)
			if err != nil || res.StreamVersion != 1 {
				t.Errorf("retry of Append(%q) = %+v, %v; want version 1", stream, res, err)
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		recs, err := s.ReadStream(t.Context(), fmt.Sprintf("c-%d", w), 0, eventstore.Forward, 0)
		if err != nil || len(recs) != 1 {
			t.Errorf("stream c-%d holds %d events, %v; want 1", w, len(recs), err)
		}
	}
}
