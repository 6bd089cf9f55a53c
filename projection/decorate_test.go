package projection_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/eventstore/eventstoretest"
	"github.com/eventfold/eventfold/projection"
)

// bareStore hides every optional interface of the store it embeds.
type bareStore struct{ eventstore.Store }

func TestDecorateStore(t *testing.T) {
	ctx := t.Context()
	appends := 0
	hooks := projection.StoreHooks{Append: func(ctx context.Context, stream string, events []eventstore.Event,
		next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
		appends++
		return next(ctx, events)
	}}
	ev := []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}

	full := projection.DecorateStore(memstore.New(nil), hooks)
	keyed, ok := full.(eventstore.KeyedAppender)
	if !ok {
		t.Fatal("the decorated memstore lost KeyedAppender")
	}
	if _, ok := full.(projection.HeadReader); !ok {
		t.Fatal("the decorated memstore lost HeadReader")
	}
	if _, err := full.Append(ctx, "s", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := keyed.AppendKeyed(ctx, "k", "s", eventstore.Exact(1), ev); err != nil {
		t.Fatal(err)
	}
	if appends != 2 {
		t.Errorf("the Append hook ran %d times, want 2 (Append and AppendKeyed)", appends)
	}

	bare := projection.DecorateStore(bareStore{memstore.New(nil)}, projection.StoreHooks{})
	if _, ok := bare.(eventstore.KeyedAppender); ok {
		t.Error("a bare store gained KeyedAppender")
	}
	changed := bare.(projection.Notifier).Changed()
	if _, err := bare.Append(ctx, "s", eventstore.Any, ev); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(time.Second):
		t.Error("Changed was not closed after an append through the decorator")
	}
}

// A decorated store's tenant views are decorated too, and confined as the
// inner store's are.
func TestDecorateStoreTenants(t *testing.T) {
	ctx := t.Context()
	var appends, reads int
	hooks := projection.StoreHooks{
		Append: func(ctx context.Context, stream string, events []eventstore.Event,
			next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
			appends++
			return next(ctx, events)
		},
		ReadAll: func(ctx context.Context, next func(context.Context) ([]eventstore.Record, error)) ([]eventstore.Record, error) {
			reads++
			return next(ctx)
		},
	}
	full := projection.DecorateStore(memstore.New(nil), hooks)
	acme, err := eventstore.ForTenant(full, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := acme.(eventstore.KeyedAppender); !ok {
		t.Error("acme's decorated view lost KeyedAppender")
	}
	if _, ok := acme.(projection.HeadReader); !ok {
		t.Error("acme's decorated view lost HeadReader")
	}
	if _, err := acme.(eventstore.KeyedAppender).AppendKeyed(ctx, "cmd-1", "order-1", eventstore.NoStream,
		[]eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if appends != 1 {
		t.Errorf("appends through acme's view seen by the hook: %d, want 1", appends)
	}
	if recs, err := full.ReadAll(ctx, eventstore.Position{}, 0); err != nil || len(recs) != 0 {
		t.Errorf("the default tenant reads %d events (%v), want none of acme's", len(recs), err)
	}
	if recs, err := acme.ReadAll(ctx, eventstore.Position{}, 0); err != nil || len(recs) != 1 || recs[0].Tenant != "acme" {
		t.Errorf("acme reads %+v (%v), want its event", recs, err)
	}
	all, err := eventstore.AllTenants(full)
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := all.ReadAll(ctx, eventstore.Position{}, 0); err != nil || len(recs) != 1 || recs[0].Tenant != "acme" {
		t.Errorf("every tenant reads %+v (%v), want acme's event", recs, err)
	}
	if reads != 3 {
		t.Errorf("reads seen by the hook: %d, want 3 (default, acme, every tenant)", reads)
	}
	if _, err := eventstore.ForTenant(full, ""); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ForTenant(\"\") = %v, want ErrInvalidInput", err)
	}
	bare := projection.DecorateStore(bareStore{memstore.New(nil)}, hooks)
	if _, err := eventstore.ForTenant(bare, "acme"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ForTenant of a store without tenant views = %v, want errors.ErrUnsupported", err)
	}
	if _, err := eventstore.AllTenants(bare); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("AllTenants of a store without tenant views = %v, want errors.ErrUnsupported", err)
	}
}

// keyedOnly has a memstore's AppendKeyed but not its command outcomes.
type keyedOnly struct{ eventstore.KeyedAppender }

// A decorated store keeps the command outcomes of the store it wraps, in
// its tenant views too, and appends through AppendCommand run the hook.
func TestDecorateStoreKeepsOutcomes(t *testing.T) {
	ctx := t.Context()
	appends := 0
	hooks := projection.StoreHooks{Append: func(ctx context.Context, stream string, events []eventstore.Event,
		next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
		appends++
		return next(ctx, events)
	}}
	full := projection.DecorateStore(memstore.New(nil), hooks)
	acme, err := eventstore.ForTenant(full, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]eventstore.Store{"default": full, "acme": acme} {
		o, err := eventstore.Outcomes(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		key := eventstore.CommandKey{Key: "k", Hash: "h"}
		if _, err := o.AppendCommand(ctx, key, "s", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
			t.Fatalf("%s: AppendCommand = %v", name, err)
		}
		if rec, err := o.RecordRefusal(ctx, eventstore.CommandKey{Key: "r"}, "s", eventstore.Refusal{Message: "no"}); err != nil || rec.Refusal == nil {
			t.Errorf("%s: RecordRefusal = %+v, %v", name, rec, err)
		}
		if rec, ok, err := o.LookupKey(ctx, "k"); err != nil || !ok || rec.Hash != "h" {
			t.Errorf("%s: LookupKey = %+v, %v, %v; want the append's record", name, rec, ok, err)
		}
	}
	if appends != 2 {
		t.Errorf("the Append hook ran %d times, want 2 (one AppendCommand per tenant)", appends)
	}
	keyed := projection.DecorateStore(keyedOnly{memstore.New(nil)}, hooks)
	if _, ok := keyed.(eventstore.KeyedAppender); !ok {
		t.Error("a keyed store lost KeyedAppender")
	}
	if _, err := eventstore.Outcomes(keyed); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Outcomes of a decorated store without outcomes = %v, want ErrUnsupported", err)
	}
}

// A decorated memstore passes the event store's conformance suite, command
// outcomes and tenants included.
func TestDecoratedStoreConformance(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Config{
		New: func(t testing.TB) eventstore.Store {
			return projection.DecorateStore(memstore.New(nil), projection.StoreHooks{})
		},
		ForTenant: func(s eventstore.Store, tenant string) (eventstore.Store, error) {
			return eventstore.ForTenant(s, tenant)
		},
		AllTenants: func(s eventstore.Store) eventstore.Store {
			all, err := eventstore.AllTenants(s)
			if err != nil {
				panic(err)
			}
			return all
		},
	})
}

// tenantViews gives a third-party store memstore's tenant views and nothing
// else of it.
type tenantViews struct{ ms *memstore.Store }

func (v tenantViews) StoreForTenant(tenant string) (eventstore.Store, error) {
	return v.ms.StoreForTenant(tenant)
}
func (v tenantViews) StoreForAllTenants() eventstore.Store { return v.ms.StoreForAllTenants() }

type (
	tenantsOnly struct {
		eventstore.Store
		tenantViews
	}
	keyedTenants struct {
		eventstore.KeyedAppender
		tenantViews
	}
	headTenants struct {
		eventstore.Store
		projection.HeadReader
		tenantViews
	}
	keyedHeadTenant struct {
		eventstore.KeyedAppender
		projection.HeadReader
		tenantViews
	}
	outcomeTenants struct {
		eventstore.OutcomeStore
		tenantViews
	}
)

// Every combination of optional interfaces keeps the tenant views of a
// multi-tenant store, decorated with the hooks, and keeps exactly the
// optional interfaces the store has.
func TestDecorateStoreKeepsTenantsOfAnyStore(t *testing.T) {
	ctx := t.Context()
	appends := 0
	hooks := projection.StoreHooks{Append: func(ctx context.Context, stream string, events []eventstore.Event,
		next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
		appends++
		return next(ctx, events)
	}}
	ms := memstore.New(nil)
	views := tenantViews{ms}
	for name, inner := range map[string]eventstore.Store{
		"tenants only":      tenantsOnly{ms, views},
		"keyed":             keyedTenants{ms, views},
		"head":              headTenants{ms, ms, views},
		"keyed and head":    keyedHeadTenant{ms, ms, views},
		"outcomes, no head": outcomeTenants{ms, views},
		"memstore":          ms,
	} {
		s := projection.DecorateStore(inner, hooks)
		for iface, has := range map[string][2]bool{
			"TenantScoper":  {is[eventstore.TenantScoper](inner), is[eventstore.TenantScoper](s)},
			"KeyedAppender": {is[eventstore.KeyedAppender](inner), is[eventstore.KeyedAppender](s)},
			"OutcomeStore":  {is[eventstore.OutcomeStore](inner), is[eventstore.OutcomeStore](s)},
			"HeadReader":    {is[projection.HeadReader](inner), is[projection.HeadReader](s)},
		} {
			if has[0] != has[1] {
				t.Errorf("%s: the store implements %s: %v; decorated: %v", name, iface, has[0], has[1])
			}
		}
		acme, err := eventstore.ForTenant(s, "acme")
		if err != nil {
			t.Errorf("%s: ForTenant of the decorated store = %v", name, err)
			continue
		}
		before := appends
		if _, err := acme.Append(ctx, "order-"+name, eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if appends != before+1 {
			t.Errorf("%s: an append through acme's view did not run the hook", name)
		}
		if _, err := eventstore.AllTenants(s); err != nil {
			t.Errorf("%s: AllTenants of the decorated store = %v", name, err)
		}
	}
}

func is[I any](s eventstore.Store) bool { _, ok := s.(I); return ok }
