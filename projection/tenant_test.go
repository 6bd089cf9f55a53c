package projection_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// Two tenants use the same stream IDs. One Runner per tenant, each writing
// to its tenant's namespace, builds each tenant's read model from its own
// events only: over the tenant's own log, and over every tenant's log (the
// Runner skips the other tenants' events).
func TestRunnerPerTenant(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	ctx := t.Context()
	sums := map[string]int{"a": 1, "b": 1000, "c": 1000000}
	tokens := map[string]eventstore.Position{}
	for tenant, n := range sums {
		ts, err := es.ForTenant(tenant)
		if err != nil {
			t.Fatal(err)
		}
		for _, stream := range []string{"s-1", "s-2"} {
			res, err := ts.Append(ctx, stream, eventstore.Any, []eventstore.Event{tally.Event(n), tally.Event(n)})
			if err != nil {
				t.Fatal(err)
			}
			tokens[tenant] = res.Position
		}
	}
	// The default tenant's events go nowhere near the tenants' read models.
	if _, err := es.Append(ctx, "s-1", eventstore.Any, []eventstore.Event{tally.Event(7)}); err != nil {
		t.Fatal(err)
	}

	ta, _ := es.ForTenant("a")
	startRunner(t, projection.Config{Projection: tally.Projection(), Tenant: "a",
		Source: projection.LogSource(ta, nil), Store: rm})
	startRunner(t, projection.Config{Projection: tally.Projection(), Tenant: "b",
		Source: projection.LogSource(es.AllTenants(), nil), Store: rm})

	for _, tenant := range []string{"a", "b"} {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := projection.WaitFor(wctx, rm, tally.Name, tenant, tokens[tenant])
		cancel()
		if err != nil {
			t.Fatalf("tenant %s: WaitFor = %v", tenant, err)
		}
		ns, err := projection.Active(ctx, rm, tally.Name, tenant)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]tally.Doc{}
		items, err := tally.Model.View(rm, ns).GetMany(ctx, []string{"s-1", "s-2"})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			got[it.ID] = it.Doc
		}
		want := map[string]tally.Doc{"s-1": {Count: 2, Sum: 2 * sums[tenant]}, "s-2": {Count: 2, Sum: 2 * sums[tenant]}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tenant %s: read model (-want +got):\n%s", tenant, diff)
		}
	}
	// Tenant c has no runner: nothing of a's or b's shows in its namespace.
	ns := readmodel.Namespace{Projection: tally.Name, Version: "1", Tenant: "c"}
	if items, err := tally.Model.View(rm, ns).GetMany(ctx, []string{"s-1", "s-2"}); err != nil || len(items) != 0 {
		t.Errorf("tenant c's namespace holds %v, %v", items, err)
	}
}
