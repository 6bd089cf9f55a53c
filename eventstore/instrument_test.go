package eventstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/eventstore/eventstoretest"
)

// An instrumented memstore passes the conformance suite with every feature
// memstore has: instrumentation keeps them all.
func TestInstrumentConformance(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Config{
		New: func(t testing.TB) eventstore.Store {
			return eventstore.Instrument(memstore.New(nil), eventstore.Hooks{})
		},
		Features: eventstoretest.Features{Keyed: true, Outcomes: true, Head: true, Notify: true, Tenants: true, Filtered: true, Lifecycle: true, Reclaim: true, Archive: true},
	})
}

// bareStore hides every capability of the store it embeds.
type bareStore struct{ eventstore.Store }

// compacter is a capability eventfold does not know, as a third party
// would define it for its own store.
type compacter interface {
	Compact(ctx context.Context) (int, error)
}

// thirdPartyStore is a store from outside eventfold with a capability of
// its own and a head.
type thirdPartyStore struct {
	eventstore.Store
	compacted int
}

func (s *thirdPartyStore) Compact(context.Context) (int, error) {
	s.compacted++
	return s.compacted, nil
}
func (s *thirdPartyStore) Head(context.Context) (eventstore.Position, error) {
	return eventstore.Position{Commit: 7, Sequence: 9}, nil
}

// tenantViews gives a store memstore's tenant views and nothing else.
type tenantViews struct{ ms *memstore.Store }

func (v tenantViews) StoreForTenant(tenant string) (eventstore.Store, error) {
	return v.ms.StoreForTenant(tenant)
}
func (v tenantViews) StoreForAllTenants() eventstore.LogReader { return v.ms.StoreForAllTenants() }

type (
	headOnly    struct{ *memstore.Store }
	tenantsOnly struct {
		eventstore.Store
		tenantViews
	}
	keyedTenants struct {
		eventstore.KeyedAppender
		tenantViews
	}
	outcomeTenants struct {
		eventstore.OutcomeStore
		tenantViews
	}
)

func (s headOnly) Unwrap() eventstore.Store { return bareStore{s.Store} }

func (s headOnly) Head(ctx context.Context) (eventstore.Position, error) { return s.Store.Head(ctx) }

func has[T any](v any) bool { _, ok := eventstore.As[T](v); return ok }

// capabilities reports which of eventfold's capabilities v has.
func capabilities(v any) map[string]bool {
	return map[string]bool{
		"KeyedAppender":  has[eventstore.KeyedAppender](v),
		"OutcomeStore":   has[eventstore.OutcomeStore](v),
		"HeadReader":     has[eventstore.HeadReader](v),
		"Notifier":       has[eventstore.Notifier](v),
		"TenantScoper":   has[eventstore.TenantScoper](v),
		"AllTenantsView": has[eventstore.AllTenantsView](v),
		"FilteredReader": has[eventstore.FilteredReader](v),
	}
}

// countingHooks counts the calls that pass through each hook.
func countingHooks(appends, reads *int) eventstore.Hooks {
	return eventstore.Hooks{
		Append: func(ctx context.Context, _ string, events []eventstore.Event,
			next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
			*appends++
			return next(ctx, events)
		},
		ReadAll: func(ctx context.Context, next func(context.Context) ([]eventstore.Record, error)) ([]eventstore.Record, error) {
			*reads++
			return next(ctx)
		},
	}
}

// Instrumenting a store keeps exactly the capabilities it has, in every
// combination, and claims none it lacks.
func TestInstrumentKeepsExactlyTheCapabilities(t *testing.T) {
	ms := memstore.New(nil)
	views := tenantViews{ms}
	for name, inner := range map[string]eventstore.Store{
		"bare":                 bareStore{ms},
		"head only":            headOnly{ms},
		"tenants only":         tenantsOnly{bareStore{ms}, views},
		"keyed and tenants":    keyedTenants{ms, views},
		"outcomes and tenants": outcomeTenants{ms, views},
		"memstore":             ms,
	} {
		var appends, reads int
		got := capabilities(eventstore.Instrument(inner, countingHooks(&appends, &reads)))
		for c, want := range capabilities(inner) {
			if got[c] != want {
				t.Errorf("%s: the store has %s: %v; instrumented: %v", name, c, want, got[c])
			}
		}
	}
}

// A store without a capability, instrumented, does not claim it: the
// accessors fail with errors.ErrUnsupported.
func TestInstrumentDoesNotClaimMissingCapabilities(t *testing.T) {
	s := eventstore.Instrument(bareStore{memstore.New(nil)}, eventstore.Hooks{})
	for c, ok := range capabilities(s) {
		if ok {
			t.Errorf("the instrumented bare store claims %s", c)
		}
	}
	ctx := t.Context()
	if _, err := eventstore.Keyed(s); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Keyed = %v, want ErrUnsupported", err)
	}
	if _, err := eventstore.Outcomes(s); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Outcomes = %v, want ErrUnsupported", err)
	}
	if _, err := eventstore.Head(ctx, s); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Head = %v, want ErrUnsupported", err)
	}
	if _, err := eventstore.ForTenant(s, "acme"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ForTenant = %v, want ErrUnsupported", err)
	}
	if _, err := eventstore.AllTenants(s); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("AllTenants = %v, want ErrUnsupported", err)
	}
	// A keyed store without outcomes stays without them.
	keyed := eventstore.Instrument(struct{ eventstore.KeyedAppender }{memstore.New(nil)}, eventstore.Hooks{})
	if _, err := eventstore.Keyed(keyed); err != nil {
		t.Errorf("Keyed of an instrumented keyed store = %v", err)
	}
	if _, err := eventstore.Outcomes(keyed); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Outcomes of an instrumented keyed store = %v, want ErrUnsupported", err)
	}
}

// A capability eventfold does not know stays reachable through any number
// of instrumentations, and so do eventfold's own that the wrapper does not
// hook.
func TestInstrumentKeepsThirdPartyCapabilities(t *testing.T) {
	inner := &thirdPartyStore{Store: bareStore{memstore.New(nil)}}
	s := eventstore.Instrument(eventstore.Instrument(inner, eventstore.Hooks{}), eventstore.Hooks{})
	c, ok := eventstore.As[compacter](s)
	if !ok {
		t.Fatal("the instrumented store lost the third party's Compact")
	}
	if n, err := c.Compact(t.Context()); err != nil || n != 1 || inner.compacted != 1 {
		t.Errorf("Compact through the instrumentation = %d, %v; the store compacted %d times, want 1", n, err, inner.compacted)
	}
	if p, err := eventstore.Head(t.Context(), s); err != nil || p.Sequence != 9 {
		t.Errorf("Head through the instrumentation = %v, %v; want the store's", p, err)
	}
}

// loggingStore is a user's own decorator: it overrides Append and unwraps
// to the store it decorates.
type loggingStore struct {
	eventstore.Store
	appends int
}

func (s *loggingStore) Append(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	s.appends++
	return s.Store.Append(ctx, streamID, expected, events)
}

func (s *loggingStore) Unwrap() eventstore.Store { return s.Store }

// A user's decorator with an Unwrap method keeps every capability of the
// store it wraps, eventfold's and a third party's; without Unwrap it keeps
// none.
func TestAsSeesThroughUserWrappers(t *testing.T) {
	ms := memstore.New(nil)
	wrapped := &loggingStore{Store: ms}
	for c, ok := range capabilities(wrapped) {
		if want := capabilities(ms)[c]; ok != want {
			t.Errorf("through the user's wrapper %s = %v, want %v", c, ok, want)
		}
	}
	if _, ok := eventstore.As[compacter](&loggingStore{Store: &thirdPartyStore{Store: ms}}); !ok {
		t.Error("the user's wrapper hides the third party's Compact")
	}
	if _, ok := eventstore.As[eventstore.OutcomeStore](bareStore{ms}); ok {
		t.Error("a wrapper without Unwrap offers the capabilities of the store it embeds")
	}
	// An instrumented user's wrapper: appends run through both.
	var appends, reads int
	s := eventstore.Instrument(wrapped, countingHooks(&appends, &reads))
	if _, err := s.Append(t.Context(), "s", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if appends != 1 || wrapped.appends != 1 {
		t.Errorf("an append ran %d hooks and %d user decorators, want 1 and 1", appends, wrapped.appends)
	}
}

// A wrapper that unwraps to itself does not hang As.
func TestAsStopsOnCycles(t *testing.T) {
	if has[compacter](&selfWrapper{}) {
		t.Error("a self-wrapping store has Compact")
	}
}

type selfWrapper struct{ eventstore.Store }

func (s *selfWrapper) Unwrap() eventstore.Store { return s }

// Hooks run around every append (Append, AppendKeyed, AppendCommand) and
// every ReadAll, of the store, its tenant views and its all-tenants reader.
func TestInstrumentRunsHooksEverywhere(t *testing.T) {
	ctx := t.Context()
	var appends, reads int
	s := eventstore.Instrument(memstore.New(nil), countingHooks(&appends, &reads))
	ev := []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}
	mustNot := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Append(ctx, "a", eventstore.NoStream, ev)
	mustNot(err)
	keyed, err := eventstore.Keyed(s)
	mustNot(err)
	_, err = keyed.AppendKeyed(ctx, "k1", "b", eventstore.NoStream, ev)
	mustNot(err)
	outcomes, err := eventstore.Outcomes(s)
	mustNot(err)
	_, err = outcomes.AppendCommand(ctx, eventstore.CommandKey{Key: "k2"}, "c", eventstore.NoStream, ev)
	mustNot(err)
	acme, err := eventstore.ForTenant(s, "acme")
	mustNot(err)
	_, err = acme.Append(ctx, "a", eventstore.NoStream, ev)
	mustNot(err)
	if appends != 4 {
		t.Errorf("%d appends ran the hook, want 4", appends)
	}
	all, err := eventstore.AllTenants(s)
	mustNot(err)
	for _, r := range []eventstore.LogReader{s, acme, all} {
		_, err := r.ReadAll(ctx, eventstore.Position{}, 0)
		mustNot(err)
	}
	if reads != 3 {
		t.Errorf("%d ReadAll calls ran the hook, want 3", reads)
	}
	if !eventstore.ReadsAllTenants(all) || eventstore.ReadsAllTenants(acme) {
		t.Error("the instrumented views do not tell which reads every tenant")
	}
	if _, ok := all.(eventstore.Store); ok {
		t.Error("the instrumented all-tenants reader is a Store")
	}
	want := capabilities(memstore.New(nil).AllTenants())
	for c, ok := range capabilities(all) {
		if ok != want[c] {
			t.Errorf("the instrumented all-tenants reader has %s: %v, memstore's: %v", c, ok, want[c])
		}
	}
}

// Filtered reads of the log run the ReadAll hook too, of the store, its
// tenant views and its all-tenants reader, and keep the page's Through.
func TestInstrumentRunsReadAllHookAroundFilteredReads(t *testing.T) {
	ctx := t.Context()
	var appends, reads int
	ms := memstore.New(nil)
	s := eventstore.Instrument(ms, countingHooks(&appends, &reads))
	last, err := ms.Append(ctx, "a", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	acme, err := eventstore.ForTenant(s, "acme")
	if err != nil {
		t.Fatal(err)
	}
	all, err := eventstore.AllTenants(s)
	if err != nil {
		t.Fatal(err)
	}
	f := eventstore.Filter{Types: []string{"A"}}
	for _, r := range []eventstore.LogReader{s, acme, all} {
		page, err := eventstore.ReadAllFiltered(ctx, r, eventstore.Position{}, f, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r != acme && (len(page.Records) != 1 || page.Through != last.Position) {
			t.Errorf("%T: filtered read = %d records through %v; want 1 through %v", r, len(page.Records), page.Through, last.Position)
		}
	}
	if reads != 3 {
		t.Errorf("%d filtered reads ran the ReadAll hook, want 3", reads)
	}
}
