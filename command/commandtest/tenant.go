package commandtest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// snapshotView returns s's view of tenant, failing the test when there is
// none.
func snapshotView(t *testing.T, s command.SnapshotStore, tenant string) command.SnapshotStore {
	t.Helper()
	v, err := command.SnapshotsForTenant(s, tenant)
	if err != nil {
		t.Fatalf("SnapshotsForTenant(%T, %q) = %v", s, tenant, err)
	}
	return v
}

// keyView returns k's view of tenant, failing the test when there is none.
func keyView(t *testing.T, k command.KeyStore, tenant string) command.KeyStore {
	t.Helper()
	v, err := command.KeysForTenant(k, tenant)
	if err != nil {
		t.Fatalf("KeysForTenant(%T, %q) = %v", k, tenant, err)
	}
	return v
}

// testSnapshotTenants checks that a store with tenant views keeps each
// tenant's snapshots apart: the same stream ID in two tenants names two
// streams, and views of one tenant share its snapshots.
func testSnapshotTenants(t *testing.T, s command.SnapshotStore) {
	a, b := snapshotView(t, s, "tenant-a"), snapshotView(t, s, "tenant-b")
	if _, err := command.SnapshotsForTenant(s, ""); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("SnapshotsForTenant(%T, \"\") = %v, want ErrInvalidInput", s, err)
	}
	def := command.Snapshot{StreamID: "s", Version: 5, SchemaVersion: 1, State: []byte("default")}
	save(t, s, def)
	if got, err := a.Load(t.Context(), "s"); !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Errorf("tenant-a: Load of the default tenant's stream = %+v, %v; want ErrSnapshotNotFound", got, err)
	}
	// An older version in another tenant is another stream's snapshot.
	inA := command.Snapshot{StreamID: "s", Version: 3, SchemaVersion: 1, State: []byte("tenant-a")}
	save(t, a, inA)
	inB := command.Snapshot{StreamID: "s", Version: 9, SchemaVersion: 1, State: []byte("tenant-b")}
	save(t, b, inB)
	wantSnapshot(t, a, inA)
	wantSnapshot(t, b, inB)
	wantSnapshot(t, s, def)
	wantSnapshot(t, snapshotView(t, s, "tenant-a"), inA)
	if got, err := b.Load(t.Context(), "only-a"); !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Errorf("tenant-b: Load of a missing stream = %+v, %v; want ErrSnapshotNotFound", got, err)
	}
}

// testSnapshotTenantsConcurrent saves one stream ID in three tenants from
// many goroutines at once, each tenant's versions in a different range:
// every tenant ends with its own newest snapshot.
func testSnapshotTenantsConcurrent(t *testing.T, s command.SnapshotStore) {
	const n = 30
	tenants := []string{"", "tenant-a", "tenant-b"}
	views := []command.SnapshotStore{s, snapshotView(t, s, "tenant-a"), snapshotView(t, s, "tenant-b")}
	var wg sync.WaitGroup
	errs := make(chan error, n*len(views))
	for v := range n {
		for i, view := range views {
			wg.Go(func() {
				version := int64(i*1000 + v + 1)
				snap := command.Snapshot{StreamID: "hot", Version: version, SchemaVersion: 1, State: fmt.Appendf(nil, "%s %d", tenants[i], version)}
				if err := view.Save(t.Context(), snap); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Save = %v", err)
	}
	for i, view := range views {
		version := int64(i*1000 + n)
		wantSnapshot(t, view, command.Snapshot{StreamID: "hot", Version: version, SchemaVersion: 1, State: fmt.Appendf(nil, "%s %d", tenants[i], version)})
	}
}

// testKeyTenants checks that a store with tenant views keeps each tenant's
// keys apart: the same subject in two tenants has two keys, Forget in one
// leaves the others, and views of one tenant share its keys.
func testKeyTenants(t *testing.T, s command.KeyStore) {
	a, b := keyView(t, s, "tenant-a"), keyView(t, s, "tenant-b")
	if _, err := command.KeysForTenant(s, ""); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("KeysForTenant(%T, \"\") = %v, want ErrInvalidInput", s, err)
	}
	inDefault := key(t, s, "user")
	if _, ok := lookup(t, a, "user"); ok {
		t.Error("tenant-a: Lookup finds the default tenant's key")
	}
	inA, inB := key(t, a, "user"), key(t, b, "user")
	if bytes.Equal(inA, inDefault) || bytes.Equal(inB, inDefault) || bytes.Equal(inA, inB) {
		t.Error("two tenants got the same key for one subject")
	}
	again := keyView(t, s, "tenant-a")
	if got, ok := lookup(t, again, "user"); !ok || !bytes.Equal(got, inA) {
		t.Error("a second view of tenant-a does not find its key")
	}
	if err := a.Forget(t.Context(), "user"); err != nil {
		t.Fatalf("tenant-a: Forget = %v", err)
	}
	if _, ok := lookup(t, again, "user"); ok {
		t.Error("tenant-a: Lookup after Forget finds a key")
	}
	for name, c := range map[string]struct {
		s    command.KeyStore
		want []byte
	}{"default": {s, inDefault}, "tenant-b": {b, inB}} {
		if got, ok := lookup(t, c.s, "user"); !ok || !bytes.Equal(got, c.want) {
			t.Errorf("%s: Forget in tenant-a changed its key (found %v)", name, ok)
		}
	}
}

// testKeyTenantsConcurrent asks for the first key of one subject in three
// tenants from many goroutines at once, each through a view of its own:
// each tenant gets one key, and no two tenants share it.
func testKeyTenantsConcurrent(t *testing.T, s command.KeyStore) {
	const perTenant = 12
	tenants := []string{"", "tenant-a", "tenant-b"}
	keys := make([][]byte, perTenant*len(tenants))
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		view := s
		if tenant := tenants[i%len(tenants)]; tenant != "" {
			view = keyView(t, s, tenant)
		}
		wg.Go(func() { keys[i], errs[i] = view.Key(t.Context(), "contended") })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatalf("concurrent Key = %v", errs[i])
		}
		if first := keys[i%len(tenants)]; !bytes.Equal(keys[i], first) {
			t.Fatalf("concurrent first Key calls in tenant %q returned different keys, want one", tenants[i%len(tenants)])
		}
	}
	if bytes.Equal(keys[0], keys[1]) || bytes.Equal(keys[0], keys[2]) || bytes.Equal(keys[1], keys[2]) {
		t.Error("two tenants got the same key for one subject under contention")
	}
}
