package commandtest

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// tenantView returns store's view of tenant through its ForTenant method,
// func(tenant string) (T, error) with T an S, as the adapters' snapshot and
// key stores have. It returns false when store has no ForTenant method,
// and fails the test when the method has another shape or fails.
func tenantView[S any](t *testing.T, store S, tenant string) (S, bool) {
	t.Helper()
	var zero S
	m := reflect.ValueOf(store).MethodByName("ForTenant")
	if !m.IsValid() {
		return zero, false
	}
	want := reflect.TypeFor[S]()
	mt := m.Type()
	errType := reflect.TypeFor[error]()
	if mt.NumIn() != 1 || mt.In(0).Kind() != reflect.String || mt.NumOut() != 2 || !mt.Out(0).Implements(want) || mt.Out(1) != errType {
		t.Fatalf("%T has a ForTenant method of type %v; want func(string) (%v, error), or none", store, mt, want)
	}
	out := m.Call([]reflect.Value{reflect.ValueOf(tenant)})
	if err, _ := out[1].Interface().(error); err != nil {
		t.Fatalf("%T.ForTenant(%q) = %v", store, tenant, err)
	}
	return out[0].Interface().(S), true
}

// checkInvalidTenant checks that ForTenant rejects an empty tenant ID.
func checkInvalidTenant(t *testing.T, store any) {
	t.Helper()
	out := reflect.ValueOf(store).MethodByName("ForTenant").Call([]reflect.Value{reflect.ValueOf("")})
	if err, _ := out[1].Interface().(error); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("%T.ForTenant(\"\") = %v, want ErrInvalidInput", store, err)
	}
}

// testSnapshotTenants checks that a store with tenant views keeps each
// tenant's snapshots apart: the same stream ID in two tenants names two
// streams, and views of one tenant share its snapshots.
func testSnapshotTenants(t *testing.T, s command.SnapshotStore) {
	a, ok := tenantView(t, s, "tenant-a")
	if !ok {
		t.Logf("%T has no ForTenant method: tenant isolation not checked", s)
		return
	}
	b, _ := tenantView(t, s, "tenant-b")
	checkInvalidTenant(t, s)
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
	again, _ := tenantView(t, s, "tenant-a")
	wantSnapshot(t, again, inA)
	if got, err := b.Load(t.Context(), "only-a"); !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Errorf("tenant-b: Load of a missing stream = %+v, %v; want ErrSnapshotNotFound", got, err)
	}
}

// testKeyTenants checks that a store with tenant views keeps each tenant's
// keys apart: the same subject in two tenants has two keys, Forget in one
// leaves the others, and views of one tenant share its keys.
func testKeyTenants(t *testing.T, s command.KeyStore) {
	a, ok := tenantView(t, s, "tenant-a")
	if !ok {
		t.Logf("%T has no ForTenant method: tenant isolation not checked", s)
		return
	}
	b, _ := tenantView(t, s, "tenant-b")
	checkInvalidTenant(t, s)
	inDefault := key(t, s, "user")
	if _, ok := lookup(t, a, "user"); ok {
		t.Error("tenant-a: Lookup finds the default tenant's key")
	}
	inA, inB := key(t, a, "user"), key(t, b, "user")
	if bytes.Equal(inA, inDefault) || bytes.Equal(inB, inDefault) || bytes.Equal(inA, inB) {
		t.Error("two tenants got the same key for one subject")
	}
	again, _ := tenantView(t, s, "tenant-a")
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
