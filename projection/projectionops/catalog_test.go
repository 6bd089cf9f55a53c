package projectionops_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// Runners record themselves in the catalog, so tools list projections
// without being told their names; a rebuild's newer version replaces the
// entry.
func TestCatalogListsRunningProjections(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, _ := appendAccounts(t, es, 3, 1)
	src := projection.LogSource(es, nil)
	ignoreTime := cmpopts.IgnoreFields(projectionops.CatalogEntry{}, "RecordedAt")

	if got, err := projectionops.ListProjections(t.Context(), rm); err != nil || len(got) != 0 {
		t.Fatalf("empty store: ListProjections = %v, %v", got, err)
	}
	_, stopV1 := startRunner(t, projection.Config{Projection: balances("1"), Source: src, Store: rm})
	waitFor(t, rm, "balances", token)
	for p := range 2 {
		startRunner(t, projection.Config{Projection: projection.New("totals", "1", nil), Source: src, Store: rm,
			Tenant: "acme \"co\"", Partitions: 2, Partition: p})
	}
	want := []projectionops.CatalogEntry{
		{Name: "balances", Version: "1", Partitions: 1},
		{Name: "totals", Tenant: "acme \"co\"", Version: "1", Partitions: 2},
	}
	waitCatalog(t, rm, want, ignoreTime)

	_ = stopV1()
	startRunner(t, projection.Config{Projection: balances("2"), Source: src, Store: rm})
	want[0].Version = "2"
	got := waitCatalog(t, rm, want, ignoreTime)
	for _, e := range got {
		if e.RecordedAt.IsZero() {
			t.Errorf("%s: RecordedAt is zero", e.Name)
		}
	}
}

// waitCatalog polls the catalog until it lists want: Runners record
// themselves asynchronously, when they open.
func waitCatalog(t *testing.T, rm readmodel.Reader, want []projectionops.CatalogEntry, opts ...cmp.Option) []projectionops.CatalogEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := projectionops.ListProjections(t.Context(), rm)
		if err != nil {
			t.Fatal(err)
		}
		diff := cmp.Diff(want, got, opts...)
		if diff == "" {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListProjections (-want +got):\n%s", diff)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A Runner over the store's AllTenants view, instrumented or not, records that
// it reads every tenant's log; one over a tenant's view or the default
// tenant's does not.
func TestCatalogMarksAllTenantsProjections(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	acme, err := es.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	decoratedAll, err := eventstore.AllTenants(eventstore.Instrument(es, eventstore.Hooks{}))
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]eventstore.LogReader{
		"all": es.AllTenants(), "decorated-all": decoratedAll, "default": es, "acme": acme,
	} {
		startRunner(t, projection.Config{Projection: projection.New(name, "1", nil), Source: projection.LogSource(src, nil), Store: rm})
	}
	waitCatalog(t, rm, []projectionops.CatalogEntry{
		{Name: "acme", Version: "1", Partitions: 1},
		{Name: "all", Version: "1", Partitions: 1, AllTenants: true},
		{Name: "decorated-all", Version: "1", Partitions: 1, AllTenants: true},
		{Name: "default", Version: "1", Partitions: 1},
	}, cmpopts.IgnoreFields(projectionops.CatalogEntry{}, "RecordedAt"))
}

// Inspect tells operators' tools the active version and each partition's
// checkpoint without their knowing the Runner's documents.
func TestInspect(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, _ := appendAccounts(t, es, 4, 2)
	for part := range 2 {
		startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm, Partitions: 2, Partition: part})
	}
	waitFor(t, rm, "balances", token)
	in, err := projectionops.Inspect(t.Context(), rm, "balances", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if in.Active != "1" || in.Version != "1" || in.SwitchedAt.IsZero() || len(in.Partitions) != 2 {
		t.Fatalf("Inspect = %+v, want version 1 active with 2 partitions", in)
	}
	for i, p := range in.Partitions {
		if !p.Committed || p.Position.IsZero() {
			t.Errorf("partition %d = %+v, want a committed checkpoint", i, p)
		}
	}
	if in, err := projectionops.Inspect(t.Context(), rm, "balances", "", &projectionops.InspectOptions{Version: "2", Partitions: 3}); err != nil || in.Active != "1" || len(in.Partitions) != 3 || in.Partitions[0].Committed {
		t.Errorf("Inspect of version 2, never built = %+v, %v; want 3 uncommitted partitions", in, err)
	}
	if in, err := projectionops.Inspect(t.Context(), rm, "nope", "", nil); err != nil || in.Active != "" || in.Version != "" || in.Partitions != nil {
		t.Errorf("Inspect of an unknown projection = %+v, %v; want nothing active", in, err)
	}
}
