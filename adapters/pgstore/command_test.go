package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// Acceptance tests of package command on PostgreSQL.

type (
	incremented struct{ By int }
	increment   struct {
		By  int
		Key string
	}
)

func (c increment) IdempotencyKey() string { return c.Key }

var counterDecider = command.Decider[int, increment, incremented]{
	Evolve: func(n int, e incremented) int { return n + e.By },
	Decide: func(c increment, _ int) ([]incremented, error) { return []incremented{{By: c.By}}, nil },
}

func counterRegistry(t testing.TB) *command.Registry {
	reg := command.NewRegistry(nil)
	if err := command.Register[incremented](reg, "Incremented", nil); err != nil {
		t.Fatal(err)
	}
	return reg
}

// migrated returns the pool and options of a fresh, migrated schema.
func migrated(t testing.TB) (pgstore.DB, *pgstore.Options) {
	t.Helper()
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(context.Background(), pool, opts); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return pool, opts
}

func newCounter(t testing.TB, store eventstore.Store, opts *command.Options) *command.Handler[int, increment, incremented] {
	t.Helper()
	h, err := command.NewHandler(store, counterRegistry(t), counterDecider, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCommandHotStream: 16 writers × 50 increments on one stream, spread
// over 4 Handlers as over 4 processes, all succeed through retries, with no
// lost update. (Writers sharing a Handler take turns; writers in different
// Handlers race and retry.)
func TestCommandHotStream(t *testing.T) {
	const handlers, writersPerHandler, increments = 4, 4, 50
	const commands = handlers * writersPerHandler * increments
	db, opts := migrated(t)
	store, err := pgstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The default retry policy, with no snapshots: retries read only the
	// tail the winners appended.
	hs := make([]*command.Handler[int, increment, incremented], handlers)
	for i := range hs {
		hs[i] = newCounter(t, store, nil)
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, h := range hs {
		for range writersPerHandler {
			wg.Go(func() {
				for range increments {
					if _, err := h.Handle(t.Context(), "hot", increment{By: 1}); err != nil {
						failed.Add(1)
						t.Errorf("Handle = %v", err)
					}
				}
			})
		}
	}
	wg.Wait()
	n, version, err := hs[0].Load(t.Context(), "hot")
	if err != nil {
		t.Fatal(err)
	}
	if n != commands || version != commands || failed.Load() != 0 {
		t.Errorf("counter = %d at version %d with %d failures, want %d at version %d with none", n, version, failed.Load(), commands, commands)
	}
}

// TestCommandIdempotencyAcrossStores: two stores (two processes) sharing
// one database see each other's idempotency keys.
func TestCommandIdempotencyAcrossStores(t *testing.T) {
	db, opts := migrated(t)
	s1, err := pgstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := pgstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := newCounter(t, s1, nil), newCounter(t, s2, nil)

	first, err := h1.Handle(t.Context(), "c", increment{By: 5, Key: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := h2.Handle(t.Context(), "c", increment{By: 5, Key: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.StreamVersion != first.StreamVersion || again.Position != first.Position {
		t.Errorf("second store: %+v, want the first outcome %+v replayed", again, first)
	}
	// Concurrent duplicates from both stores: exactly one applies.
	var wg sync.WaitGroup
	var replayed atomic.Int64
	for i := range 8 {
		h := h1
		if i%2 == 1 {
			h = h2
		}
		wg.Go(func() {
			res, err := h.Handle(t.Context(), "c", increment{By: 1, Key: "req-2"})
			if err != nil {
				t.Errorf("Handle = %v", err)
			}
			if res.Replayed {
				replayed.Add(1)
			}
		})
	}
	wg.Wait()
	n, version, err := h1.Load(t.Context(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 || version != 2 || replayed.Load() != 7 {
		t.Errorf("counter %d at version %d with %d replays, want 6 at version 2 with 7 replays", n, version, replayed.Load())
	}
}

var errTooEarly = errors.New("counter is below the increment")

// TestCommandRefusalAcrossStores: a keyed command refused through one
// store (process) stays refused through another after the state changed so
// that it would succeed, and its key fails for any other command.
func TestCommandRefusalAcrossStores(t *testing.T) {
	db, opts := migrated(t)
	s1, err := pgstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := pgstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	// increment By is refused while the counter is below By.
	picky := counterDecider
	picky.Decide = func(c increment, n int) ([]incremented, error) {
		if n < c.By {
			return nil, fmt.Errorf("%w: %d < %d", errTooEarly, n, c.By)
		}
		return []incremented{{By: c.By}}, nil
	}
	hopts := &command.Options{Refusals: map[string]error{"too_early": errTooEarly}}
	newPicky := func(s eventstore.Store) *command.Handler[int, increment, incremented] {
		h, err := command.NewHandler(s, counterRegistry(t), picky, hopts)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h1, h2 := newPicky(s1), newPicky(s2)
	ctx := t.Context()
	_, first := h1.Handle(ctx, "c", increment{By: 1, Key: "req-1"})
	if !errors.Is(first, errTooEarly) {
		t.Fatalf("first Handle = %v, want errTooEarly", first)
	}
	if _, err := h1.Handle(ctx, "c", increment{By: 0}); err != nil { // the counter is 0: allowed
		t.Fatal(err)
	}
	if _, err := newCounter(t, s1, nil).Handle(ctx, "c", increment{By: 3}); err != nil {
		t.Fatal(err)
	}
	res, err := h2.Handle(ctx, "c", increment{By: 1, Key: "req-1"})
	var rej *command.RejectedError
	if !errors.As(err, &rej) || !rej.Replayed || rej.Code != "too_early" || err.Error() != first.Error() || !errors.Is(err, errTooEarly) {
		t.Errorf("second store, same key = %+v, %v; want the first refusal %q, replayed, matching errTooEarly", res, err, first)
	}
	if _, err := h2.Handle(ctx, "c", increment{By: 2, Key: "req-1"}); !errors.Is(err, command.ErrKeyReused) {
		t.Errorf("second store, same key, another command = %v; want ErrKeyReused", err)
	}
	if n, version, err := h1.Load(ctx, "c"); err != nil || n != 3 || version != 2 {
		t.Errorf("counter %d at version %d (%v), want 3 at version 2: nothing appended for the key", n, version, err)
	}
}

// countingStore counts the records ReadStream returns.
type countingStore struct {
	eventstore.Store
	read atomic.Int64
}

func (s *countingStore) ReadStream(ctx context.Context, id string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	recs, err := s.Store.ReadStream(ctx, id, from, dir, limit)
	s.read.Add(int64(len(recs)))
	return recs, err
}

// TestCommandSnapshotTailRead: a stream of 100,000 events with a recent
// snapshot loads by reading only the events after it, and gives the same
// state as a full read.
func TestCommandSnapshotTailRead(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 100,000 events")
	}
	const total, tail = 100_000, 25
	db, opts := migrated(t)
	store, err := pgstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := counterRegistry(t).Encode(incremented{By: 1})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]eventstore.Event, eventstore.MaxEventsPerAppend)
	for i := range batch {
		batch[i] = ev
	}
	for v := 0; v < total; v += len(batch) {
		if _, err := store.Append(t.Context(), "big", eventstore.Exact(int64(v)), batch); err != nil {
			t.Fatal(err)
		}
	}
	snaps := pgstore.NewSnapshots(db, opts)
	counting := &countingStore{Store: store}
	h := newCounter(t, counting, &command.Options{Snapshots: &command.Snapshots{Store: snaps, Policy: command.EveryN(1000)}})
	if _, err := h.Handle(t.Context(), "big", increment{By: 1}); err != nil { // full read, then a snapshot
		t.Fatal(err)
	}
	if snap, err := snaps.Load(t.Context(), "big"); err != nil || snap.Version != total+1 {
		t.Fatalf("snapshot = version %d, %v; want version %d", snap.Version, err, total+1)
	}
	for range tail {
		if _, err := store.Append(t.Context(), "big", eventstore.Any, batch[:1]); err != nil {
			t.Fatal(err)
		}
	}
	counting.read.Store(0)
	n, version, err := h.Load(t.Context(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if got := counting.read.Load(); got != tail {
		t.Errorf("load with a snapshot read %d events, want only the %d after it", got, tail)
	}
	full := newCounter(t, store, nil)
	fullN, fullVersion, err := full.Load(t.Context(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if n != fullN || version != fullVersion || n != total+1+tail {
		t.Errorf("snapshot load = %d at version %d, full load = %d at %d; want %d", n, version, fullN, fullVersion, total+1+tail)
	}
}
