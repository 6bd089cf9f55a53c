package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/console"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// memEvents adds the listing and search a console needs to memstore, by
// scanning; pgstore answers them with SQL.
type memEvents struct{ *memstore.Store }

// logQueries answers the console's searches by reading a whole log.
type logQueries struct{ eventstore.LogReader }

func (m memEvents) ListStreams(ctx context.Context, prefix, after string, limit int) ([]console.StreamInfo, error) {
	return logQueries{m.Store}.ListStreams(ctx, prefix, after, limit)
}

func (m memEvents) EventsByCorrelation(ctx context.Context, id string, limit int) ([]eventstore.Record, error) {
	return logQueries{m.Store}.EventsByCorrelation(ctx, id, limit)
}

// memAllEvents is the console's view of every tenant's events.
type memAllEvents struct{ *memstore.AllTenantsReader }

func (m memAllEvents) ReadStream(context.Context, string, int64, eventstore.Direction, int) ([]eventstore.Record, error) {
	return nil, &eventstore.InvalidInputError{Field: "tenant", Reason: "the all-tenants reader reads no stream"}
}

func (m memAllEvents) ListStreams(ctx context.Context, prefix, after string, limit int) ([]console.StreamInfo, error) {
	return logQueries{m.AllTenantsReader}.ListStreams(ctx, prefix, after, limit)
}

func (m memAllEvents) EventsByCorrelation(ctx context.Context, id string, limit int) ([]eventstore.Record, error) {
	return logQueries{m.AllTenantsReader}.EventsByCorrelation(ctx, id, limit)
}

func (m logQueries) all(ctx context.Context) ([]eventstore.Record, error) {
	var out []eventstore.Record
	var after eventstore.Position
	for {
		recs, err := m.ReadAll(ctx, after, 0)
		if err != nil || len(recs) == 0 {
			return out, err
		}
		out = append(out, recs...)
		after = recs[len(recs)-1].Position
	}
}

func (m logQueries) ListStreams(ctx context.Context, prefix, after string, limit int) ([]console.StreamInfo, error) {
	recs, err := m.all(ctx)
	if err != nil {
		return nil, err
	}
	versions := map[string]int64{}
	for _, r := range recs {
		versions[r.StreamID] = r.Version
	}
	var out []console.StreamInfo
	for id, v := range versions {
		if strings.HasPrefix(id, prefix) && id > after {
			out = append(out, console.StreamInfo{ID: id, Version: v})
		}
	}
	slices.SortFunc(out, func(a, b console.StreamInfo) int { return strings.Compare(a.ID, b.ID) })
	return out[:min(limit, len(out))], nil
}

func (m logQueries) EventsByCorrelation(ctx context.Context, id string, limit int) ([]eventstore.Record, error) {
	recs, err := m.all(ctx)
	var out []eventstore.Record
	for _, r := range recs {
		if id != "" && r.Metadata.CorrelationID == id && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, err
}

// ForTenant and AllTenants hand out memstore's own views: the console
// never filters by tenant itself.
func (m memEvents) ForTenant(tenant string) (console.Events, error) {
	v, err := m.Store.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return memEvents{v}, nil
}

func (m memEvents) AllTenants() console.Events { return memAllEvents{m.Store.AllTenants()} }

var _ console.TenantEvents = memEvents{}

// hostile is a stream ID that would run script if the page used it as HTML.
const hostile = `<img src=x onerror=alert(1)>/../"x"`

type fixture struct {
	srv    *console.Server
	url    string
	es     *memstore.Store
	rm     *memstore.ReadModels
	tokens map[string]eventstore.Position
}

// start appends two accounts and a transfer flow, runs a projection over
// them until it has caught up, and serves a console.
func start(t *testing.T, token string) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{es: memstore.New(nil), rm: memstore.NewReadModels(nil), tokens: map[string]eventstore.Position{}}
	appendEv := func(stream, typ, corr, cause string) eventstore.Position {
		t.Helper()
		res, err := f.es.Append(ctx, stream, eventstore.Any, []eventstore.Event{{Type: typ, Data: []byte(`{"note":"<b>bold</b>"}`),
			Metadata: eventstore.Metadata{CorrelationID: corr, CausationID: cause}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	appendEv("acc-ada", "Opened", "req-1", "cmd-1")
	appendEv(hostile, "Opened", "req-2", "cmd-2")
	appendEv("acc-ada", "Withdrawn", "flow-9", "cmd-3")
	last := appendEv("acc-bob", "Deposited", "flow-9", "cmd-4")

	p := projection.New("accounts", "3", nil)
	p.On("Opened", func(context.Context, *projection.Tx, eventstore.Record) error { return nil })
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(f.es, nil), Store: f.rm})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := projection.WaitFor(wctx, f.rm, "accounts", "", last); err != nil {
		t.Fatal(err)
	}
	f.srv, err = console.New(console.Config{Events: memEvents{f.es}, ReadModels: f.rm, Token: token, SampleEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(f.srv.Handler())
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

func get(t *testing.T, u string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func getJSON(t *testing.T, u string, v any, headers ...string) {
	t.Helper()
	status, h, body := get(t, u, headers...)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, status, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", u, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, body)
	}
}

func TestProjectionsAndLagHistory(t *testing.T) {
	f := start(t, "")
	var ps []map[string]any
	getJSON(t, f.url+"/api/projections", &ps)
	if len(ps) != 1 {
		t.Fatalf("projections: %v", ps)
	}
	p := ps[0]
	if p["name"] != "accounts" || p["version"] != "3" || p["state"] != "caught up" || p["lag_events"] != 0.0 || p["position"] != p["head"] {
		t.Errorf("accounts: %v", p)
	}

	if err := f.srv.Sample(t.Context()); err != nil {
		t.Fatal(err)
	}
	var hist struct {
		Series []struct {
			Name    string
			Samples []struct {
				LagEvents uint64 `json:"lag_events"`
			}
		}
	}
	getJSON(t, f.url+"/api/projections/lag-history", &hist)
	if len(hist.Series) != 1 || hist.Series[0].Name != "accounts" || len(hist.Series[0].Samples) != 1 || hist.Series[0].Samples[0].LagEvents != 0 {
		t.Errorf("lag history: %+v", hist)
	}
}

func TestLagIsReportedWhileBehind(t *testing.T) {
	f := start(t, "")
	// A catalogued projection whose checkpoint is older than the head.
	ns := readmodel.Namespace{Projection: "ledger", Version: "1"}
	cp, _ := json.Marshal(map[string]any{"position": eventstore.Position{}})
	ptr, _ := json.Marshal(map[string]any{"version": "1", "partitions": 1})
	entry, _ := json.Marshal(projectionops.CatalogEntry{Name: "ledger", Version: "1", Partitions: 1})
	rev := readmodel.Revision{Commit: 1}
	apply := func(ns readmodel.Namespace, w readmodel.Write) {
		if _, err := f.rm.Apply(t.Context(), ns, readmodel.Batch{Writes: []readmodel.Write{w}}); err != nil {
			t.Fatal(err)
		}
	}
	apply(ns, readmodel.Write{ID: "$checkpoint/0", Revision: rev, Data: cp})
	apply(readmodel.Namespace{Projection: "ledger", Version: "$active"}, readmodel.Write{ID: "pointer", Revision: rev, Data: ptr})
	apply(readmodel.Namespace{Projection: "$catalog", Version: "$catalog"}, readmodel.Write{ID: `["ledger",""]`, Revision: rev, Data: entry,
		Entries: []readmodel.Entry{{Index: "name", Value: readmodel.String("ledger")}}})

	var ps []map[string]any
	getJSON(t, f.url+"/api/projections", &ps)
	if len(ps) != 2 || ps[1]["name"] != "ledger" {
		t.Fatalf("projections: %v", ps)
	}
	if l := ps[1]; l["state"] != "behind" || l["lag_events"].(float64) < 1 || l["lag_seconds"].(float64) <= 0 {
		t.Errorf("ledger: %v", l)
	}
}

func TestStreamsAndHostileIDs(t *testing.T) {
	f := start(t, "")
	var page struct {
		Streams []console.StreamInfo
		More    bool
	}
	getJSON(t, f.url+"/api/streams?limit=2", &page)
	if len(page.Streams) != 2 || !page.More || page.Streams[0].ID != hostile {
		t.Errorf("first page: %+v", page)
	}
	getJSON(t, f.url+"/api/streams?prefix=acc-&after=acc-ada", &page)
	if len(page.Streams) != 1 || page.More || page.Streams[0] != (console.StreamInfo{ID: "acc-bob", Version: 1}) {
		t.Errorf("prefix acc- after acc-ada: %+v", page)
	}

	var stream struct {
		Stream string
		Events []struct {
			Type     string
			Version  int64
			Data     map[string]string
			Metadata eventstore.Metadata
		}
	}
	getJSON(t, f.url+"/api/streams/"+url.PathEscape(hostile), &stream)
	if stream.Stream != hostile || len(stream.Events) != 1 || stream.Events[0].Metadata.CorrelationID != "req-2" || stream.Events[0].Data["note"] != "<b>bold</b>" {
		t.Errorf("hostile stream: %+v", stream)
	}
	status, _, body := get(t, f.url+"/api/streams/"+url.PathEscape(hostile))
	if status != 200 || strings.Contains(string(body), "<img") {
		t.Errorf("JSON must escape markup: %s", body)
	}
	if status, _, _ := get(t, f.url+"/api/streams/nope"); status != http.StatusNotFound {
		t.Errorf("unknown stream: %d", status)
	}
	if status, _, _ := get(t, f.url+"/api/streams?limit=-1"); status != http.StatusBadRequest {
		t.Errorf("negative limit: %d", status)
	}
}

func TestCorrelationFollowsAFlow(t *testing.T) {
	f := start(t, "")
	var flow struct {
		Events []struct {
			ID, Stream, Type string
			Projections      []struct{ Name, State string }
		}
		Commands []struct {
			ID     string
			Events []string
		}
	}
	getJSON(t, f.url+"/api/correlation/flow-9", &flow)
	if len(flow.Events) != 2 || flow.Events[0].Type != "Withdrawn" || flow.Events[1].Stream != "acc-bob" {
		t.Fatalf("flow-9 events: %+v", flow.Events)
	}
	for _, e := range flow.Events {
		if len(e.Projections) != 1 || e.Projections[0].Name != "accounts" || e.Projections[0].State != "applied" {
			t.Errorf("event %s projections: %+v", e.Type, e.Projections)
		}
	}
	if len(flow.Commands) != 2 || flow.Commands[0].ID != "cmd-3" || flow.Commands[1].ID != "cmd-4" ||
		len(flow.Commands[0].Events) != 1 || flow.Commands[0].Events[0] != flow.Events[0].ID {
		t.Errorf("commands: %+v", flow.Commands)
	}

	// An event the projection has not reached yet is pending.
	if _, err := f.es.Append(t.Context(), "acc-eve", eventstore.Any, []eventstore.Event{{Type: "Unknown", Data: []byte(`{}`),
		Metadata: eventstore.Metadata{CorrelationID: "flow-9", CausationID: "cmd-5"}}}); err != nil {
		t.Fatal(err)
	}
	// The runner may pass it at once; either state is allowed, any other is not.
	getJSON(t, f.url+"/api/correlation/flow-9", &flow)
	if len(flow.Events) != 3 || (flow.Events[2].Projections[0].State != "pending" && flow.Events[2].Projections[0].State != "applied") {
		t.Errorf("after a new event: %+v", flow.Events)
	}
	getJSON(t, f.url+"/api/correlation/"+url.PathEscape("no such flow"), &flow)
	if len(flow.Events) != 0 || len(flow.Commands) != 0 {
		t.Errorf("unknown correlation ID: %+v", flow)
	}
}

func TestTokenIsRequired(t *testing.T) {
	f := start(t, "s3cret")
	for _, c := range []struct {
		name    string
		path    string
		headers []string
		want    int
	}{
		{"no token", "/api/projections", nil, 401},
		{"wrong bearer", "/api/projections", []string{"Authorization", "Bearer s3cre"}, 401},
		{"wrong scheme", "/api/projections", []string{"Authorization", "Basic s3cret"}, 401},
		{"wrong query", "/api/streams?token=s3cretX", nil, 401},
		{"bearer", "/api/projections", []string{"Authorization", "Bearer s3cret"}, 200},
		{"query", "/api/streams?token=s3cret", nil, 200},
		{"unknown API path", "/api/nope", nil, 401},
		{"page shell", "/", nil, 200},
	} {
		status, h, body := get(t, f.url+c.path, c.headers...)
		if status != c.want {
			t.Errorf("%s: GET %s = %d, want %d (%s)", c.name, c.path, status, c.want, body)
		}
		if status == 401 && (h.Get("WWW-Authenticate") == "" || strings.Contains(string(body), "s3cret")) {
			t.Errorf("%s: 401 answer %v %s", c.name, h, body)
		}
	}
}

func TestReadOnlyAndHeaders(t *testing.T) {
	f := start(t, "")
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		req, _ := http.NewRequest(m, f.url+"/api/projections", strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	status, h, body := get(t, f.url+"/")
	if status != 200 || !strings.Contains(string(body), "eventfold console") || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("page: %d %v", status, h)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", h)
	}
	for _, asset := range []string{"/app.js", "/style.css"} {
		if status, _, _ := get(t, f.url+asset); status != 200 {
			t.Errorf("%s: %d", asset, status)
		}
	}
	// The page never turns data into markup.
	_, _, js := get(t, f.url+"/app.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	f := start(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()
	var ps []map[string]any
	getJSON(t, "http://"+ln.Addr().String()+"/api/projections", &ps)
	if len(ps) != 1 {
		t.Errorf("projections over Serve: %v", ps)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := console.New(console.Config{}); err == nil || !strings.Contains(err.Error(), "Events") || !strings.Contains(err.Error(), "ReadModels") {
		t.Errorf("New(zero Config) = %v", err)
	}
}

// reportingEvents is memEvents over a store that says it holds events
// back, as pgstore does while a transaction is open.
type reportingEvents struct {
	memEvents
	events int64
	since  time.Time
}

func (r reportingEvents) AllTenants() console.Events {
	return reportingAll{memAllEvents{r.Store.AllTenants()}, r}
}

// reportingAll is reportingEvents's all-tenants view.
type reportingAll struct {
	memAllEvents
	r reportingEvents
}

func (a reportingAll) HeldBackEvents(ctx context.Context) (int64, time.Time, error) {
	return a.r.HeldBackEvents(ctx)
}

func (r reportingEvents) HeldBackEvents(context.Context) (int64, time.Time, error) {
	return r.events, r.since, nil
}

// TestHeldBack: the console says how many events an open transaction hides
// from every projection, and for how long, when the store can tell.
func TestHeldBack(t *testing.T) {
	f := start(t, "")
	type heldBack struct {
		Supported         bool    `json:"supported"`
		Events            int64   `json:"events"`
		OldestOpenSeconds float64 `json:"oldest_open_seconds"`
	}
	var hb heldBack
	getJSON(t, f.url+"/api/log/held-back", &hb)
	if hb != (heldBack{}) {
		t.Errorf("memstore, which never holds events back: %+v, want unsupported", hb)
	}

	srv, err := console.New(console.Config{Events: reportingEvents{memEvents{f.es}, 4, time.Now().Add(-time.Minute)}, ReadModels: f.rm, SampleEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	getJSON(t, hs.URL+"/api/log/held-back", &hb)
	if !hb.Supported || hb.Events != 4 || hb.OldestOpenSeconds < 60 || hb.OldestOpenSeconds > 90 {
		t.Errorf("4 events behind a transaction open for a minute: %+v", hb)
	}
}
