package commandtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/google/go-cmp/cmp"
)

// RunSnapshotStore runs the conformance suite for command.SnapshotStore
// implementations as parallel subtests of t: the tests of the port's
// contract, and those of every feature cfg declares.
func RunSnapshotStore(t *testing.T, cfg SnapshotConfig) {
	if cfg.New == nil {
		t.Fatal("commandtest: SnapshotConfig.New is nil")
	}
	checkFeatures(t, cfg.New(t), cfg.Features, snapshotCapabilities)
	tests := []struct {
		name string
		run  func(t *testing.T, s command.SnapshotStore)
	}{
		{"LoadMissing", testLoadMissing},
		{"SaveThenLoad", testSaveThenLoad},
		{"NewerReplaces", testNewerReplaces},
		{"OlderIsIgnored", testOlderIsIgnored},
		{"SameVersionReplaces", testSameVersionReplaces},
		{"StreamsAreIndependent", testStreamsAreIndependent},
		{"StateIsCopied", testStateIsCopied},
		{"EmptyState", testEmptyState},
		{"InvalidSnapshot", testInvalidSnapshot},
		{"ConcurrentSaves", testConcurrentSaves},
	}
	if cfg.Features.Tenants {
		tests = append(tests, []struct {
			name string
			run  func(t *testing.T, s command.SnapshotStore)
		}{
			{"Tenants", testSnapshotTenants},
			{"Tenants/ConcurrentSaves", testSnapshotTenantsConcurrent},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, cfg.New(t))
		})
	}
}

func save(t *testing.T, s command.SnapshotStore, snap command.Snapshot) {
	t.Helper()
	if err := s.Save(t.Context(), snap); err != nil {
		t.Fatalf("Save(%q, version %d) = %v, want nil", snap.StreamID, snap.Version, err)
	}
}

func wantSnapshot(t *testing.T, s command.SnapshotStore, want command.Snapshot) {
	t.Helper()
	got, err := s.Load(t.Context(), want.StreamID)
	if err != nil {
		t.Fatalf("Load(%q) = %v, want a snapshot", want.StreamID, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load(%q) mismatch (-want +got):\n%s", want.StreamID, diff)
	}
}

func testLoadMissing(t *testing.T, s command.SnapshotStore) {
	_, err := s.Load(t.Context(), "no-such-stream")
	if !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Errorf("Load of a stream without snapshot = %v, want ErrSnapshotNotFound", err)
	}
}

func testSaveThenLoad(t *testing.T, s command.SnapshotStore) {
	for _, id := range []string{"account-1", `odd "quoted"; stream`, "ünïcode/ストリーム"} {
		snap := command.Snapshot{StreamID: id, Version: 42, SchemaVersion: 3, State: []byte(`{"balance":100}`)}
		save(t, s, snap)
		wantSnapshot(t, s, snap)
	}
}

func testNewerReplaces(t *testing.T, s command.SnapshotStore) {
	save(t, s, command.Snapshot{StreamID: "s", Version: 10, SchemaVersion: 1, State: []byte("ten")})
	newer := command.Snapshot{StreamID: "s", Version: 20, SchemaVersion: 1, State: []byte("twenty")}
	save(t, s, newer)
	wantSnapshot(t, s, newer)
}

func testOlderIsIgnored(t *testing.T, s command.SnapshotStore) {
	newer := command.Snapshot{StreamID: "s", Version: 20, SchemaVersion: 1, State: []byte("twenty")}
	save(t, s, newer)
	save(t, s, command.Snapshot{StreamID: "s", Version: 10, SchemaVersion: 2, State: []byte("ten")})
	wantSnapshot(t, s, newer)
}

func testSameVersionReplaces(t *testing.T, s command.SnapshotStore) {
	save(t, s, command.Snapshot{StreamID: "s", Version: 10, SchemaVersion: 1, State: []byte("old shape")})
	again := command.Snapshot{StreamID: "s", Version: 10, SchemaVersion: 2, State: []byte("new shape")}
	save(t, s, again)
	wantSnapshot(t, s, again)
}

func testStreamsAreIndependent(t *testing.T, s command.SnapshotStore) {
	a := command.Snapshot{StreamID: "a", Version: 5, SchemaVersion: 1, State: []byte("a")}
	b := command.Snapshot{StreamID: "b", Version: 3, SchemaVersion: 1, State: []byte("b")}
	save(t, s, a)
	save(t, s, b)
	wantSnapshot(t, s, a)
	wantSnapshot(t, s, b)
	if _, err := s.Load(t.Context(), "c"); !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Errorf("Load(%q) = %v, want ErrSnapshotNotFound", "c", err)
	}
}

func testStateIsCopied(t *testing.T, s command.SnapshotStore) {
	state := []byte("original")
	save(t, s, command.Snapshot{StreamID: "s", Version: 1, SchemaVersion: 1, State: state})
	copy(state, "XXXXXXXX")
	want := command.Snapshot{StreamID: "s", Version: 1, SchemaVersion: 1, State: []byte("original")}
	wantSnapshot(t, s, want)
	got, err := s.Load(t.Context(), "s")
	if err != nil {
		t.Fatal(err)
	}
	copy(got.State, "YYYYYYYY")
	wantSnapshot(t, s, want)
}

func testEmptyState(t *testing.T, s command.SnapshotStore) {
	save(t, s, command.Snapshot{StreamID: "s", Version: 1, SchemaVersion: 1, State: nil})
	got, err := s.Load(t.Context(), "s")
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if len(got.State) != 0 || got.Version != 1 {
		t.Errorf("Load = version %d, state %q; want version 1 and an empty state", got.Version, got.State)
	}
}

func testInvalidSnapshot(t *testing.T, s command.SnapshotStore) {
	for _, snap := range []command.Snapshot{
		{StreamID: "", Version: 1, SchemaVersion: 1},
		{StreamID: "s", Version: 0, SchemaVersion: 1},
		{StreamID: "s", Version: -1, SchemaVersion: 1},
		{StreamID: "s", Version: 1, SchemaVersion: 0},
	} {
		if err := s.Save(t.Context(), snap); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("Save(%+v) = %v, want ErrInvalidInput", snap, err)
		}
	}
	if _, err := s.Load(t.Context(), "s"); !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Errorf("Load after invalid saves = %v, want ErrSnapshotNotFound", err)
	}
}

func testConcurrentSaves(t *testing.T, s command.SnapshotStore) {
	const n = 50
	versions := rand.Perm(n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, v := range versions {
		wg.Go(func() {
			snap := command.Snapshot{StreamID: "hot", Version: int64(v + 1), SchemaVersion: 1, State: fmt.Appendf(nil, "state %d", v+1)}
			if err := s.Save(context.WithoutCancel(t.Context()), snap); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Save = %v", err)
	}
	wantSnapshot(t, s, command.Snapshot{StreamID: "hot", Version: n, SchemaVersion: 1, State: []byte(fmt.Sprintf("state %d", n))})
}
