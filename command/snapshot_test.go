package command_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/google/go-cmp/cmp"
)

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

func loadSnapshot(t *testing.T, snaps command.SnapshotStore, stream string) command.Snapshot {
	t.Helper()
	snap, err := snaps.Load(t.Context(), stream)
	if err != nil {
		t.Fatalf("snapshot Load(%q) = %v", stream, err)
	}
	return snap
}

func TestSnapshotPolicy(t *testing.T) {
	store, snaps := memstore.New(nil), memstore.NewSnapshots(nil)
	h := newHandler(t, store, &command.Options{Snapshots: &command.Snapshots{Store: snaps, Policy: command.EveryN(10)}})
	handle(t, h, "acc-1", Open{Owner: "ada"})
	for range 8 {
		handle(t, h, "acc-1", Deposit{Amount: 1})
	}
	if _, err := snaps.Load(t.Context(), "acc-1"); !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Fatalf("snapshot after 9 events: %v, want none", err)
	}
	for range 16 { // versions 10 to 25
		handle(t, h, "acc-1", Deposit{Amount: 1})
	}
	snap := loadSnapshot(t, snaps, "acc-1")
	var state Account
	if err := json.Unmarshal(snap.State, &state); err != nil {
		t.Fatal(err)
	}
	want := command.Snapshot{StreamID: "acc-1", Version: 20, SchemaVersion: 1}
	snap.State = nil
	if diff := cmp.Diff(want, snap); diff != "" {
		t.Errorf("snapshot mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Account{Open: true, Owner: "ada", Balance: 19}, state); diff != "" {
		t.Errorf("snapshot state mismatch (-want +got):\n%s", diff)
	}
}

func TestSnapshotPolicyFunc(t *testing.T) {
	store, snaps := memstore.New(nil), memstore.NewSnapshots(nil)
	var calls [][3]int64
	policy := func(stream string, version, snapVersion int64) bool {
		calls = append(calls, [3]int64{version, snapVersion})
		return version == 2
	}
	h := newHandler(t, store, &command.Options{Snapshots: &command.Snapshots{Store: snaps, Policy: policy}})
	handle(t, h, "acc-1", Open{})
	handle(t, h, "acc-1", Deposit{Amount: 1})
	handle(t, h, "acc-1", Deposit{Amount: 1})
	if _, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 100}); err == nil {
		t.Fatal("overdraft succeeded")
	}
	want := [][3]int64{{1, 0}, {2, 0}, {3, 2}} // a failed command asks nothing
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("policy calls (version, snapshot version) mismatch (-want +got):\n%s", diff)
	}
	if snap := loadSnapshot(t, snaps, "acc-1"); snap.Version != 2 {
		t.Errorf("snapshot at version %d, want 2", snap.Version)
	}
}

// TestSnapshotSchemaChange stores a snapshot whose shape no longer matches
// the code: a Handler with a new SchemaVersion must ignore it.
func TestSnapshotSchemaChange(t *testing.T) {
	store, snaps := memstore.New(nil), memstore.NewSnapshots(nil)
	old := newHandler(t, store, &command.Options{Snapshots: &command.Snapshots{Store: snaps, Policy: command.EveryN(1)}})
	handle(t, old, "acc-1", Open{Owner: "ada"})
	handle(t, old, "acc-1", Deposit{Amount: 5})
	// Pretend the old code encoded its state differently, e.g. in cents.
	if err := snaps.Save(t.Context(), command.Snapshot{StreamID: "acc-1", Version: 2, SchemaVersion: 1, State: []byte(`{"Open":true,"Owner":"ada","Balance":500}`)}); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := old.Load(t.Context(), "acc-1"); s.Balance != 500 {
		t.Fatalf("the same schema version uses the snapshot: balance %d, want 500", s.Balance)
	}

	counting := &countingStore{Store: store}
	h := newHandler(t, counting, &command.Options{Snapshots: &command.Snapshots{Store: snaps, SchemaVersion: 2, Policy: command.EveryN(1)}})
	s, v, err := h.Load(t.Context(), "acc-1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Balance != 5 || v != 2 || counting.read.Load() != 2 {
		t.Errorf("new schema: balance %d at version %d after reading %d events; want 5 at 2 after reading 2", s.Balance, v, counting.read.Load())
	}
	handle(t, h, "acc-1", Deposit{Amount: 1})
	if snap := loadSnapshot(t, snaps, "acc-1"); snap.SchemaVersion != 2 || snap.Version != 3 {
		t.Errorf("after a command: snapshot version %d, schema %d; want 3, 2", snap.Version, snap.SchemaVersion)
	}
}

func TestSnapshotOfResetStoreIsIgnored(t *testing.T) {
	snaps := memstore.NewSnapshots(nil)
	if err := snaps.Save(t.Context(), command.Snapshot{StreamID: "acc-1", Version: 7, SchemaVersion: 1, State: []byte(`{"Open":true,"Balance":70}`)}); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, memstore.New(nil), &command.Options{Snapshots: &command.Snapshots{Store: snaps}})
	if _, err := h.Handle(t.Context(), "acc-1", Deposit{Amount: 1}); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Handle on an empty store with a leftover snapshot = %v, want ErrNotOpen", err)
	}
}

// failingSnapshots fails every call.
type failingSnapshots struct{}

func (failingSnapshots) Load(context.Context, string) (command.Snapshot, error) {
	return command.Snapshot{}, errors.New("snapshots down")
}
func (failingSnapshots) Save(context.Context, command.Snapshot) error {
	return errors.New("snapshots down")
}

func TestSnapshotFailuresDoNotFailCommands(t *testing.T) {
	h := newHandler(t, memstore.New(nil), &command.Options{Snapshots: &command.Snapshots{Store: failingSnapshots{}, Policy: command.EveryN(1)}})
	handle(t, h, "acc-1", Open{})
	handle(t, h, "acc-1", Deposit{Amount: 2})
	if s, v, err := h.Load(t.Context(), "acc-1"); err != nil || s.Balance != 2 || v != 2 {
		t.Errorf("Load = %+v at %d, %v; want balance 2 at version 2", s, v, err)
	}
}

// TestSnapshotTailRead loads a stream of 100,000 events with a recent
// snapshot and checks that only the events after the snapshot are read.
func TestSnapshotTailRead(t *testing.T) {
	const total, batch, tail = 100_000, eventstore.MaxEventsPerAppend, 37
	mem := memstore.New(nil)
	reg := newRegistry()
	opened, err := reg.Encode(Opened{Owner: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	deposited, err := reg.Encode(Deposited{Amount: 1})
	if err != nil {
		t.Fatal(err)
	}
	events := make([]eventstore.Event, batch)
	for v := 0; v < total; v += batch {
		for i := range events {
			events[i] = deposited
		}
		if v == 0 {
			events[0] = opened
		}
		if _, err := mem.Append(t.Context(), "big", eventstore.Exact(int64(v)), events); err != nil {
			t.Fatal(err)
		}
	}
	snaps := memstore.NewSnapshots(nil)
	opts := &command.Options{Snapshots: &command.Snapshots{Store: snaps, Policy: command.EveryN(total)}}

	// The first command reads everything and, by policy, saves a snapshot.
	counting := &countingStore{Store: mem}
	h := newHandler(t, counting, opts)
	handle(t, h, "big", Deposit{Amount: 1})
	if got := counting.read.Load(); got != total {
		t.Fatalf("first load read %d events, want %d", got, total)
	}
	if snap := loadSnapshot(t, snaps, "big"); snap.Version != total+1 {
		t.Fatalf("snapshot at version %d, want %d", snap.Version, total+1)
	}
	// More events arrive from a writer that does not snapshot.
	for range tail {
		if _, err := mem.Append(t.Context(), "big", eventstore.Any, []eventstore.Event{deposited}); err != nil {
			t.Fatal(err)
		}
	}

	counting.read.Store(0)
	s, v, err := h.Load(t.Context(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if got := counting.read.Load(); got != tail {
		t.Errorf("load with a snapshot read %d events, want only the %d after it", got, tail)
	}
	if want := (Account{Open: true, Owner: "ada", Balance: total + tail}); s != want || v != total+1+tail {
		t.Errorf("load with a snapshot = %+v at version %d, want %+v at version %d", s, v, want, total+1+tail)
	}
}
