package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/console"
	"github.com/eventfold/eventfold/projection"
)

// tenantFixture holds two tenants, acme and globex, and the default
// tenant, each with the same correlation ID on one event; "accounts" runs
// for acme and globex over each tenant's own log.
type tenantFixture struct {
	es    *memstore.Store
	rm    *memstore.ReadModels
	acme  eventstore.Position // acme's last event
	globx eventstore.Position // globex's last event, not yet projected
	url   string
}

func startTenants(t *testing.T, cfg console.Config) *tenantFixture {
	t.Helper()
	ctx := t.Context()
	f := &tenantFixture{es: memstore.New(nil), rm: memstore.NewReadModels(nil)}
	view := func(tenant string) *memstore.Store {
		v, err := f.es.ForTenant(tenant)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	appendTo := func(s *memstore.Store, stream, corr string) eventstore.Position {
		t.Helper()
		res, err := s.Append(ctx, stream, eventstore.Any, []eventstore.Event{{Type: "Opened", Data: []byte(`{}`),
			Metadata: eventstore.Metadata{CorrelationID: corr, CausationID: "cmd-" + stream}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	acme, globex := view("acme"), view("globex")
	appendTo(f.es, "acc-default", "flow-1")
	f.acme = appendTo(acme, "acc-acme", "flow-1")
	globexFirst := appendTo(globex, "acc-globex", "flow-1")

	run := func(tenant string, src *memstore.Store, until eventstore.Position) {
		t.Helper()
		p := projection.New("accounts", "1", nil)
		p.On("Opened", func(context.Context, *projection.Tx, eventstore.Record) error { return nil })
		r, err := projection.NewRunner(projection.Config{Projection: p, Tenant: tenant, Source: projection.LogSource(src, nil), Store: f.rm})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(rctx) }()
		defer func() { cancel(); <-done }()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := projection.WaitFor(wctx, f.rm, "accounts", tenant, until); err != nil {
			t.Fatal(err)
		}
	}
	run("globex", globex, globexFirst)
	run("acme", acme, f.acme)
	// globex's runner has stopped: its next event is a lag. The default
	// tenant's appends move the global head, which acme must ignore.
	f.globx = appendTo(globex, "acc-globex-2", "flow-2")
	appendTo(f.es, "acc-default-2", "flow-2")

	cfg.Events, cfg.ReadModels, cfg.SampleEvery = memEvents{f.es}, f.rm, time.Hour
	srv, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

type streamsPage struct {
	Tenant  string
	Streams []console.StreamInfo
}

func streamIDs(p streamsPage) []string {
	var ids []string
	for _, s := range p.Streams {
		ids = append(ids, s.ID)
	}
	return ids
}

// Browsing a tenant shows its streams only; a stream of another tenant is
// not found there.
func TestTenantStreams(t *testing.T) {
	f := startTenants(t, console.Config{})
	for tenant, want := range map[string][]string{
		"":       {"acc-default", "acc-default-2"},
		"acme":   {"acc-acme"},
		"globex": {"acc-globex", "acc-globex-2"},
		"nobody": nil,
	} {
		var page streamsPage
		getJSON(t, f.url+"/api/streams?tenant="+url.QueryEscape(tenant), &page)
		if got := streamIDs(page); !slices.Equal(got, want) || page.Tenant != tenant {
			t.Errorf("streams of tenant %q = %q (tenant %q), want %q", tenant, got, page.Tenant, want)
		}
	}
	if status, _, body := get(t, f.url+"/api/streams/acc-acme?tenant=globex"); status != http.StatusNotFound {
		t.Errorf("acme's stream read as globex: %d %s", status, body)
	}
	var stream struct {
		Events []struct{ Tenant, Stream string }
	}
	getJSON(t, f.url+"/api/streams/acc-acme?tenant=acme", &stream)
	if len(stream.Events) != 1 || stream.Events[0].Tenant != "acme" {
		t.Errorf("acme's stream: %+v", stream)
	}
	for _, bad := range []string{"/api/streams?tenant=%00", "/api/streams?all_tenants=true", "/api/streams/acc-acme?all_tenants=1",
		"/api/correlation/flow-1?tenant=acme&all_tenants=true", "/api/correlation/flow-1?all_tenants=maybe"} {
		if status, _, body := get(t, f.url+bad); status != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s, want 400", bad, status, body)
		}
	}
	var tenants struct {
		Tenants   []string
		Supported bool
	}
	getJSON(t, f.url+"/api/tenants", &tenants)
	if !slices.Equal(tenants.Tenants, []string{"acme", "globex"}) || !tenants.Supported {
		t.Errorf("tenants: %+v", tenants)
	}
}

type flow struct {
	Events []struct {
		Tenant, Stream string
		Projections    []struct{ Name, Tenant, State string }
	}
}

// A correlation search covers one tenant, or with all_tenants every
// tenant, naming each event's tenant; each event lists only its own
// tenant's projections.
func TestTenantCorrelation(t *testing.T) {
	f := startTenants(t, console.Config{})
	var all flow
	getJSON(t, f.url+"/api/correlation/flow-1?all_tenants=true", &all)
	got := map[string]string{}
	for _, e := range all.Events {
		got[e.Stream] = e.Tenant
		for _, p := range e.Projections {
			if p.Tenant != e.Tenant {
				t.Errorf("event of tenant %q lists projection %s of tenant %q", e.Tenant, p.Name, p.Tenant)
			}
		}
		if e.Tenant != "" && (len(e.Projections) != 1 || e.Projections[0].State != "applied") {
			t.Errorf("%s: projections %+v, want accounts applied", e.Stream, e.Projections)
		}
	}
	want := map[string]string{"acc-default": "", "acc-acme": "acme", "acc-globex": "globex"}
	if len(got) != len(want) || got["acc-default"] != "" || got["acc-acme"] != "acme" || got["acc-globex"] != "globex" {
		t.Errorf("every tenant's flow-1: %v, want %v", got, want)
	}

	var acme flow
	getJSON(t, f.url+"/api/correlation/flow-1?tenant=acme", &acme)
	if len(acme.Events) != 1 || acme.Events[0].Stream != "acc-acme" || acme.Events[0].Tenant != "acme" {
		t.Errorf("acme's flow-1: %+v", acme)
	}
	var def flow
	getJSON(t, f.url+"/api/correlation/flow-1", &def)
	if len(def.Events) != 1 || def.Events[0].Stream != "acc-default" {
		t.Errorf("the default tenant's flow-1: %+v", def)
	}
}

type projectionRow struct {
	Name, Tenant, Head, Position, State string
	LagEvents                           uint64 `json:"lag_events"`
}

// Each tenant's projection is measured against its own tenant's head:
// acme is caught up though other tenants appended since, globex is behind
// by its own event.
func TestTenantLag(t *testing.T) {
	f := startTenants(t, console.Config{})
	var ps []projectionRow
	getJSON(t, f.url+"/api/projections", &ps)
	if len(ps) != 2 || ps[0].Tenant != "acme" || ps[1].Tenant != "globex" {
		t.Fatalf("projections: %+v, want accounts of acme then globex", ps)
	}
	if a := ps[0]; a.State != "caught up" || a.LagEvents != 0 || a.Head != f.acme.String() || a.Position != f.acme.String() {
		t.Errorf("acme: %+v, want caught up at its head %s", a, f.acme)
	}
	if g := ps[1]; g.State != "behind" || g.LagEvents == 0 || g.Head != f.globx.String() {
		t.Errorf("globex: %+v, want behind its head %s", g, f.globx)
	}
}

// A console confined to one tenant shows it alone and refuses the others.
func TestConsoleConfinedToATenant(t *testing.T) {
	f := startTenants(t, console.Config{Tenant: "acme"})
	var page streamsPage
	getJSON(t, f.url+"/api/streams", &page)
	if got := streamIDs(page); !slices.Equal(got, []string{"acc-acme"}) || page.Tenant != "acme" {
		t.Errorf("streams: %q of %q, want acme's", got, page.Tenant)
	}
	var ps []projectionRow
	getJSON(t, f.url+"/api/projections", &ps)
	if len(ps) != 1 || ps[0].Tenant != "acme" {
		t.Errorf("projections: %+v, want acme's only", ps)
	}
	var def flow
	getJSON(t, f.url+"/api/correlation/flow-1", &def)
	if len(def.Events) != 1 || def.Events[0].Tenant != "acme" {
		t.Errorf("flow-1: %+v, want acme's event", def)
	}
	for _, bad := range []string{"/api/streams?tenant=globex", "/api/correlation/flow-1?all_tenants=true", "/api/streams/acc-globex?tenant=globex"} {
		if status, _, body := get(t, f.url+bad); status != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s, want 400", bad, status, body)
		}
	}
}

// A store without tenant views serves the default tenant and refuses
// named ones; Config.Tenant needs tenant views.
func TestStoreWithoutTenants(t *testing.T) {
	events := struct{ console.Events }{memEvents{memstore.New(nil)}} // hides ForTenant and AllTenants
	if _, err := console.New(console.Config{Events: events, ReadModels: memstore.NewReadModels(nil), Tenant: "acme"}); err == nil {
		t.Error("Config.Tenant without TenantEvents was accepted")
	}
	srv, err := console.New(console.Config{Events: events, ReadModels: memstore.NewReadModels(nil)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	if status, _, body := get(t, hs.URL+"/api/streams?tenant=acme"); status != http.StatusBadRequest {
		t.Errorf("a named tenant: %d %s", status, body)
	}
	var page streamsPage
	getJSON(t, hs.URL+"/api/streams", &page)
	var tenants struct{ Supported bool }
	getJSON(t, hs.URL+"/api/tenants", &tenants)
	if tenants.Supported {
		t.Error("tenants reported as supported")
	}
}

// A projection over every tenant's log is measured against that log's head:
// an append of a named tenant puts it behind, though the default tenant's
// head did not move.
func TestAllTenantsProjectionLag(t *testing.T) {
	ctx := t.Context()
	es, rm := memstore.New(nil), memstore.NewReadModels(nil)
	acme, err := es.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	open := func(s *memstore.Store, stream string) eventstore.Position {
		t.Helper()
		res, err := s.Append(ctx, stream, eventstore.NoStream, []eventstore.Event{{Type: "Opened", Data: []byte(`{}`)}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	open(es, "acc-default")
	applied := open(acme, "acc-acme-1")
	p := projection.New("audit", "1", nil)
	p.On("Opened", func(context.Context, *projection.Tx, eventstore.Record) error { return nil })
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(es.AllTenants(), nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	err = projection.WaitFor(wctx, rm, "audit", "", applied)
	wcancel()
	cancel()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	head := open(acme, "acc-acme-2") // the runner has stopped: a lag of one

	srv, err := console.New(console.Config{Events: memEvents{es}, ReadModels: rm, SampleEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	var ps []struct {
		projectionRow
		AllTenants bool `json:"all_tenants"`
	}
	getJSON(t, hs.URL+"/api/projections", &ps)
	if len(ps) != 1 {
		t.Fatalf("projections: %+v, want audit alone", ps)
	}
	if a := ps[0]; !a.AllTenants || a.State != "behind" || a.LagEvents != 1 || a.Head != head.String() || a.Position != applied.String() {
		t.Errorf("audit over every tenant: %+v; want behind every tenant's head %s by one event, at %s", a, head, applied)
	}
}
