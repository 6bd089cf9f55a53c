package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/eventstore/eventstoretest"
	"github.com/eventfold/eventfold/internal/testenv"
)

// newStore returns a Store in a fresh, migrated schema.
func newStore(t testing.TB, opts *pgstore.Options) *pgstore.Store {
	t.Helper()
	pool, schema := testenv.Schema(t)
	o := pgstore.Options{}
	if opts != nil {
		o = *opts
	}
	o.Schema = schema
	if err := pgstore.Migrate(context.Background(), pool, &o); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := pgstore.New(pool, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Config{
		New:        func(t testing.TB) eventstore.Store { return newStore(t, nil) },
		Features:   eventstoretest.Features{Keyed: true, Outcomes: true, Head: true, Notify: true, Tenants: true, Filtered: true, Lifecycle: true, Reclaim: true, Archive: true},
		HoldAppend: holdAppend,
	})
}

func holdAppend(t testing.TB, s eventstore.Store, stream string, events []eventstore.Event) (eventstore.AppendResult, func()) {
	t.Helper()
	res, commit, err := pgstore.HoldAppend(t.Context(), s.(*pgstore.Store), stream, events)
	if err != nil {
		t.Fatalf("HoldAppend(%q) = %v", stream, err)
	}
	return res, func() {
		if err := commit(); err != nil {
			t.Errorf("commit the held append to %q: %v", stream, err)
		}
	}
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pgstore.Migrate(t.Context(), pool, opts)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate %d: %v", i, err)
		}
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), "kept", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	recs, err := s.ReadStream(t.Context(), "kept", 0, eventstore.Forward, 0)
	if err != nil || len(recs) != 1 {
		t.Errorf("after a second Migrate the stream reads %d events, %v", len(recs), err)
	}
	var applied int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied < 1 {
		t.Errorf("schema_migrations has %d rows", applied)
	}
}

// TestGapSafety holds one append's transaction open while other appends
// commit. A tailer of the global log must not move past the open
// transaction's events, and must see every event exactly once after it
// commits.
func TestGapSafety(t *testing.T) {
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	event := func(n int) []eventstore.Event {
		return []eventstore.Event{{Type: "E", Data: []byte(fmt.Sprintf(`{"n":%d}`, n))}}
	}
	if _, err := s.Append(ctx, "before", eventstore.Any, event(0)); err != nil {
		t.Fatal(err)
	}

	// The slow writer: its transaction takes its positions first and stays
	// open.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	inTx, err := pgstore.New(tx, opts)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := inTx.Append(ctx, "slow", eventstore.Any, event(1))
	if err != nil {
		t.Fatal(err)
	}

	// Faster writers take later positions and commit.
	var fast []eventstore.AppendResult
	for i := 0; i < 5; i++ {
		res, err := s.Append(ctx, fmt.Sprintf("fast-%d", i), eventstore.Any, event(10+i))
		if err != nil {
			t.Fatal(err)
		}
		if res.Position.Sequence <= slow.Position.Sequence {
			t.Fatalf("fast append got sequence %d, not after the slow one's %d", res.Position.Sequence, slow.Position.Sequence)
		}
		fast = append(fast, res)
	}

	// A tailer checkpoints whatever it sees. While the slow transaction is
	// open it must not see, and so not pass, anything ordered after it.
	var seen []eventstore.Record
	var checkpoint eventstore.Position
	tail := func() {
		for {
			recs, err := s.ReadAll(ctx, checkpoint, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				return
			}
			seen = append(seen, recs...)
			checkpoint = recs[len(recs)-1].Position
		}
	}
	for i := 0; i < 3; i++ {
		tail()
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range seen {
		if r.StreamID != "before" {
			t.Fatalf("while the slow transaction was open the tailer saw %s (%v)", r.StreamID, r.Position)
		}
	}
	if !checkpoint.Before(slow.Position) {
		t.Fatalf("the tailer's checkpoint %v passed the open transaction's position %v", checkpoint, slow.Position)
	}

	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() bool { tail(); return len(seen) >= 7 }, "the tailer saw %d of 7 events", len(seen))
	time.Sleep(50 * time.Millisecond)
	tail()
	if len(seen) != 7 {
		t.Fatalf("the tailer saw %d events, want 7", len(seen))
	}
	count := map[string]int{}
	for _, r := range seen {
		count[r.StreamID]++
	}
	for _, stream := range []string{"before", "slow", "fast-0", "fast-1", "fast-2", "fast-3", "fast-4"} {
		if count[stream] != 1 {
			t.Errorf("stream %s seen %d times, want once", stream, count[stream])
		}
	}
	if seen[1].StreamID != "slow" {
		t.Errorf("the slow transaction's event came at index %d, want 1 (log order follows transaction order)", indexOf(seen, "slow"))
	}
}

func indexOf(recs []eventstore.Record, stream string) int {
	for i, r := range recs {
		if r.StreamID == stream {
			return i
		}
	}
	return -1
}

// TestLosingWriterTakesNoPosition checks that a failed expected-version
// check happens before any event row is written.
func TestLosingWriterTakesNoPosition(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	ev := []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}
	first, err := s.Append(ctx, "s", eventstore.NoStream, ev)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Append(ctx, "s", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); !errors.Is(err, eventstore.ErrConcurrency) {
			t.Fatalf("Append = %v, want ErrConcurrency", err)
		}
	}
	second, err := s.Append(ctx, "s", eventstore.Exact(1), []eventstore.Event{{Type: "A", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if second.Position.Sequence != first.Position.Sequence+1 {
		t.Errorf("sequence went from %d to %d: the losing appends consumed positions", first.Position.Sequence, second.Position.Sequence)
	}
}

func TestDataLimitOption(t *testing.T) {
	s := newStore(t, &pgstore.Options{MaxDataBytes: 10})
	_, err := s.Append(t.Context(), "s", eventstore.Any, []eventstore.Event{{Type: "A", Data: []byte(`"0123456789"`)}})
	var ie *eventstore.InvalidInputError
	if !errors.As(err, &ie) || ie.Field != "events[0].data" {
		t.Errorf("Append of 12 bytes with a 10-byte limit = %v, want an invalid events[0].data error", err)
	}
}

func TestPruneCommandKeys(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	ev := func() []eventstore.Event { return []eventstore.Event{{Type: "A", Data: []byte(`{}`)}} }
	if _, err := s.AppendKeyed(ctx, "k1", "s", eventstore.Any, ev()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneCommandKeys(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("PruneCommandKeys(an hour ago) = %d, %v; want 0", n, err)
	}
	if _, err := s.RecordRefusal(ctx, eventstore.CommandKey{Key: "k2", Hash: "h"}, "s", eventstore.Refusal{Message: "no"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneCommandKeys(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("PruneCommandKeys(in an hour) = %d, %v; want 2 (an append and a refusal)", n, err)
	}
	if _, ok, err := s.LookupKey(ctx, "k2"); ok || err != nil {
		t.Errorf("LookupKey of a pruned refusal = %v, %v; want not found", ok, err)
	}
	res, err := s.AppendKeyed(ctx, "k1", "s", eventstore.Any, ev())
	if err != nil || res.Replayed || res.StreamVersion != 2 {
		t.Errorf("AppendKeyed after pruning = %+v, %v; want a fresh append at version 2", res, err)
	}
}

func TestHead(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	if p, err := s.Head(ctx); err != nil || !p.IsZero() {
		t.Fatalf("Head of an empty store = %v, %v", p, err)
	}
	res, err := s.Append(ctx, "s", eventstore.Any, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		p, err := s.Head(ctx)
		return err == nil && p == res.Position
	}, "Head never reached %v", res.Position)
}

// TestHotStreamAnyKeepsStreamOrderInLog appends to one stream with
// expected version Any from many writers at once. A transaction can take its
// ID before another that then locks the stream row first; the log, ordered
// by transaction ID, must still list the stream's versions in order.
func TestHotStreamAnyKeepsStreamOrderInLog(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				if _, err := s.Append(ctx, "hot", eventstore.Any, []eventstore.Event{{Type: "Tick", Data: []byte(`{}`)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	checkLogOrder(t, s, 16*60)
}

// Exact appends take the one-statement fast path: under contention on one
// stream the losers get conflicts (not errors), nothing is lost or written
// twice, and the log lists the stream's versions in order.
func TestHotStreamExactFastPath(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	if _, err := s.Append(ctx, "hot", eventstore.NoStream, []eventstore.Event{{Type: "Tick", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				recs, err := s.ReadStream(ctx, "hot", eventstore.StreamEnd, eventstore.Backward, 1)
				if err != nil || len(recs) != 1 {
					t.Errorf("read the stream's tail: %v (%d records)", err, len(recs))
					return
				}
				res, err := s.Append(ctx, "hot", eventstore.Exact(recs[0].Version), []eventstore.Event{{Type: "Tick", Data: []byte(`{}`)}})
				var conflict *eventstore.ConcurrencyError
				switch {
				case errors.As(err, &conflict):
					if conflict.Actual <= recs[0].Version {
						t.Errorf("conflict reports version %d, want above the expected %d", conflict.Actual, recs[0].Version)
					}
					conflicts.Add(1)
				case err != nil:
					t.Error(err)
					return
				case res.StreamVersion != recs[0].Version+1:
					t.Errorf("appended at version %d, want %d", res.StreamVersion, recs[0].Version+1)
				default:
					done++
				}
			}
		}()
	}
	wg.Wait()
	checkLogOrder(t, s, int64(1+writers*each))
	if conflicts.Load() == 0 {
		t.Log("no conflicts happened; the contention path went untested this run")
	}
}

// Exact appends (which write no stream row) race Any and StreamExists
// appends (which lock it) on one stream, with batches of 1, 10 and 20 events
// (VALUES rows and arrays): every append lands whole or gets a conflict,
// versions stay contiguous, and the log lists them in order.
func TestHotStreamMixedAppends(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	if _, err := s.Append(ctx, "hot", eventstore.NoStream, []eventstore.Event{{Type: "Tick", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	batch := func(n int) []eventstore.Event {
		evs := make([]eventstore.Event, n)
		for i := range evs {
			evs[i] = eventstore.Event{Type: "Tick", Data: []byte(`{}`)}
		}
		return evs
	}
	sizes := []int{1, 10, 20}
	var wg sync.WaitGroup
	var stored atomic.Int64
	stored.Store(1)
	for w := range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := sizes[w%3]
			for done := 0; done < 12; {
				expected := eventstore.Any
				switch w % 3 {
				case 0:
					expected = eventstore.StreamExists
				case 1, 2:
					recs, err := s.ReadStream(ctx, "hot", eventstore.StreamEnd, eventstore.Backward, 1)
					if err != nil || len(recs) != 1 {
						t.Errorf("read the stream's tail: %v (%d records)", err, len(recs))
						return
					}
					expected = eventstore.Exact(recs[0].Version)
				}
				res, err := s.Append(ctx, "hot", expected, batch(size))
				var conflict *eventstore.ConcurrencyError
				switch {
				case errors.As(err, &conflict) && expected > 0:
					if conflict.Actual <= int64(expected) {
						t.Errorf("conflict reports version %d, want above the expected %d", conflict.Actual, expected)
					}
				case err != nil:
					t.Errorf("append %d events expecting %s: %v", size, expected, err)
					return
				case expected > 0 && res.StreamVersion != int64(expected)+int64(size):
					t.Errorf("appended at version %d, want %d", res.StreamVersion, int64(expected)+int64(size))
				default:
					stored.Add(int64(size))
					done++
				}
			}
		}()
	}
	wg.Wait()
	want := stored.Load()
	checkLogOrder(t, s, want)
	infos, err := s.ListStreams(ctx, "", 10)
	if err != nil || len(infos) != 1 || infos[0].Version != want {
		t.Errorf("ListStreams = %+v, %v; want hot at version %d", infos, err, want)
	}
}

// checkLogOrder reads the global log of a store holding one stream until it
// reaches version want, failing if the log lists any version of the stream
// out of order.
func checkLogOrder(t *testing.T, s *pgstore.Store, want int64) {
	t.Helper()
	var after eventstore.Position
	last := int64(0)
	testenv.Eventually(t, 30*time.Second, func() bool {
		recs, err := s.ReadAll(t.Context(), after, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Version != last+1 {
				t.Fatalf("the log lists version %d of the stream after version %d", r.Version, last)
			}
			last, after = r.Version, r.Position
		}
		return last == want
	}, "read up to version %d of %d", last, want)
}

// An append that locks the stream row (Any here) and reads version v can
// lose version v+1 to an append at Exact(v), which takes no lock and is
// still in flight: it waits for it, and then reports a serialization
// failure (40001), never a unique violation. On its own the store retries
// and lands at v+2; in the caller's transaction the caller sees the 40001.
func TestLockedAppendLosesVersionToExactAppend(t *testing.T) {
	pool, schema := testenv.Schema(t)
	ctx := t.Context()
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	events := pgx.Identifier{schema, "events"}.Sanitize()
	for _, inCallerTx := range []bool{false, true} {
		stream := fmt.Sprintf("s-%v", inCallerTx)
		if _, err := s.Append(ctx, stream, eventstore.NoStream, oneEvent(1)); err != nil {
			t.Fatal(err)
		}
		// Version 2 as an exact append writes it, not yet committed.
		inflight, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inflight.Exec(ctx, "INSERT INTO "+events+" (stream_id, version, event_id, type, content_type, data) VALUES ($1, 2, $2, 'E', 'application/json', '\\x7b7d')",
			stream, eventstore.NewEventID()); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(300*time.Millisecond, func() { inflight.Commit(context.Background()) }) //nolint:errcheck

		var res eventstore.AppendResult
		if inCallerTx {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ts, err := pgstore.New(tx, opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ts.Append(ctx, stream, eventstore.Any, oneEvent(3))
			tx.Rollback(ctx) //nolint:errcheck
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "40001" {
				t.Errorf("in the caller's transaction: Append = %v, want a serialization failure (40001)", err)
			}
			continue
		}
		res, err = s.Append(ctx, stream, eventstore.Any, oneEvent(3))
		if err != nil || res.StreamVersion != 3 {
			t.Errorf("on its own: Append = %+v, %v; want version 3 after a retry", res, err)
		}
	}
}
