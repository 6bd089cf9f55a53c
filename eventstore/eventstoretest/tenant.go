package eventstoretest

import (
	"errors"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/eventstore"
)

// tenantTests check that tenants are isolated through every call of the
// port. They run when Features.Tenants is declared, and reach the views
// as every caller does: with eventstore.ForTenant and eventstore.AllTenants.
var tenantTests = []suiteTest{
	{"Tenants/Streams", testTenantStreams},
	{"Tenants/ReadAllAndHead", testTenantReadAll},
	{"Tenants/CommandKeys", testTenantCommandKeys},
	{"Tenants/CommandOutcomes", testTenantOutcomes},
	{"Tenants/EventIDs", testTenantEventIDs},
	{"Tenants/InvalidTenant", testTenantInvalid},
	{"Tenants/AllTenantsReadsOnly", testAllTenantsReadsOnly},
	{"Tenants/NoFallback", testTenantNoFallback},
	{"Tenants/Scoper", testTenantScoper},
}

func forTenant(t *testing.T, _ Config, s eventstore.Store, tenant string) eventstore.Store {
	t.Helper()
	ts, err := eventstore.ForTenant(s, tenant)
	if err != nil {
		t.Fatalf("ForTenant(%q) = %v", tenant, err)
	}
	return ts
}

func allTenants(t *testing.T, s eventstore.Store) eventstore.LogReader {
	t.Helper()
	all, err := eventstore.AllTenants(s)
	if err != nil {
		t.Fatalf("AllTenants = %v", err)
	}
	return all
}

// headOf returns the log's Head when it has one (Features.Head).
func headOf(t *testing.T, s eventstore.LogReader) (eventstore.Position, bool) {
	t.Helper()
	h, ok := eventstore.As[eventstore.HeadReader](s)
	if !ok {
		return eventstore.Position{}, false
	}
	p, err := h.Head(ctxFor(t))
	if err != nil {
		t.Fatalf("Head = %v", err)
	}
	return p, true
}

// The same stream ID in two tenants names two streams: each has its own
// events and its own version, and neither is visible to the other or to
// the default tenant.
func testTenantStreams(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	a, b := forTenant(t, cfg, s, "tenant-a"), forTenant(t, cfg, s, "tenant-b")

	mustAppend(t, a, "account-1", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("A", 2))
	if _, err := s.ReadStream(ctx, "account-1", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("default tenant: ReadStream of tenant-a's stream = %v, want ErrStreamNotFound", err)
	}
	for _, dir := range []eventstore.Direction{eventstore.Forward, eventstore.Backward} {
		from := int64(0)
		if dir == eventstore.Backward {
			from = eventstore.StreamEnd
		}
		if recs, err := b.ReadStream(ctx, "account-1", from, dir, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Errorf("tenant-b: ReadStream(dir %d) of tenant-a's stream = %d records, %v; want ErrStreamNotFound", dir, len(recs), err)
		}
	}
	// tenant-b's expected versions see only its own stream: NoStream holds,
	// and Exact(2), right for tenant-a, is a conflict with actual 0.
	_, err := b.Append(ctx, "account-1", eventstore.Exact(2), []eventstore.Event{jsonEvent("B", 0)})
	var ce *eventstore.ConcurrencyError
	if !errors.As(err, &ce) || ce.Actual != 0 {
		t.Errorf("tenant-b: Append(Exact(2)) = %v, want a conflict with actual version 0", err)
	}
	if res := mustAppend(t, b, "account-1", eventstore.NoStream, jsonEvent("B", 1)); res.StreamVersion != 1 {
		t.Errorf("tenant-b: first append at version %d, want 1", res.StreamVersion)
	}
	mustAppend(t, s, "account-1", eventstore.NoStream, jsonEvent("D", 1), jsonEvent("D", 2), jsonEvent("D", 3))
	if _, err := a.Append(ctx, "account-1", eventstore.Exact(1), []eventstore.Event{jsonEvent("A", 3)}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("tenant-a: Append(Exact(1)) to a stream at 2 = %v, want ErrConcurrency", err)
	}
	mustAppend(t, a, "account-1", eventstore.Exact(2), jsonEvent("A", 3))

	for _, c := range []struct {
		name   string
		store  eventstore.Store
		tenant string
		typ    string
		n      int
	}{
		{"tenant-a", a, "tenant-a", "A", 3},
		{"tenant-b", b, "tenant-b", "B", 1},
		{"default", s, "", "D", 3},
	} {
		recs := readStream(t, c.store, "account-1")
		if len(recs) != c.n {
			t.Errorf("%s: stream has %d events, want %d", c.name, len(recs), c.n)
		}
		for i, r := range recs {
			if r.Type != c.typ || r.Tenant != c.tenant || r.Version != int64(i+1) || r.StreamID != "account-1" {
				t.Errorf("%s: record %d = {tenant %q, type %q, version %d}, want {%q, %q, %d}",
					c.name, i, r.Tenant, r.Type, r.Version, c.tenant, c.typ, i+1)
			}
		}
	}
}

// A tenant's ReadAll and Head cover its own events only; the default
// tenant's cover the default tenant's; the all-tenants view covers all of
// them, in one order, each labelled with its tenant.
func testTenantReadAll(t *testing.T, cfg Config) {
	s := cfg.New(t)
	a, b := forTenant(t, cfg, s, "tenant-a"), forTenant(t, cfg, s, "tenant-b")
	stores := map[string]eventstore.Store{"tenant-a": a, "tenant-b": b, "": s}
	appended := map[string][]eventstore.Position{}
	order := []string{"tenant-a", "tenant-b", "", "tenant-a", "tenant-a", "tenant-b", ""}
	for i, tenant := range order {
		res := mustAppend(t, stores[tenant], "s", eventstore.Any, jsonEvent("E", i))
		appended[tenant] = append(appended[tenant], res.Position)
	}
	all := readAllUntil(t, cfg, allTenants(t, s), len(order))
	if len(all) != len(order) {
		t.Fatalf("all tenants: ReadAll returned %d events, want %d", len(all), len(order))
	}
	for i, r := range all {
		if r.Tenant != order[i] {
			t.Errorf("all tenants: log entry %d has tenant %q, want %q", i, r.Tenant, order[i])
		}
	}
	for tenant, store := range stores {
		want := appended[tenant]
		got := readAllUntil(t, cfg, store, len(want))
		if len(got) != len(want) {
			t.Errorf("tenant %q: ReadAll returned %d events, want %d", tenant, len(got), len(want))
			continue
		}
		for i, r := range got {
			if r.Tenant != tenant || r.Position != want[i] {
				t.Errorf("tenant %q: log entry %d = {tenant %q, position %v}, want {%q, %v}", tenant, i, r.Tenant, r.Position, tenant, want[i])
			}
		}
		// Paging within a tenant: after its first event comes its second.
		page, err := store.ReadAll(ctxFor(t), want[0], 1)
		if err != nil || len(page) != 1 || page[0].Position != want[1] {
			t.Errorf("tenant %q: ReadAll(after its first event, 1) = %v, %v; want its second event at %v", tenant, page, err, want[1])
		}
		if head, ok := headOf(t, store); ok && head != want[len(want)-1] {
			t.Errorf("tenant %q: Head = %v, want its last event at %v", tenant, head, want[len(want)-1])
		}
	}
	if head, ok := headOf(t, allTenants(t, s)); ok && head != all[len(all)-1].Position {
		t.Errorf("all tenants: Head = %v, want %v", head, all[len(all)-1].Position)
	}
	empty := forTenant(t, cfg, s, "tenant-without-events")
	if recs, err := empty.ReadAll(ctxFor(t), eventstore.Position{}, 0); err != nil || len(recs) != 0 {
		t.Errorf("tenant without events: ReadAll = %d records, %v; want none", len(recs), err)
	}
	if head, ok := headOf(t, empty); ok && !head.IsZero() {
		t.Errorf("tenant without events: Head = %v, want the zero Position", head)
	}
}

// Command keys are per tenant: the same key in another tenant is another
// command, and a retry in the first tenant still replays.
func testTenantCommandKeys(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ka, ok1 := eventstore.As[eventstore.KeyedAppender](forTenant(t, cfg, s, "tenant-a"))
	kb, ok2 := eventstore.As[eventstore.KeyedAppender](forTenant(t, cfg, s, "tenant-b"))
	if !ok1 || !ok2 {
		return // the store has no command keys: nothing to keep apart
	}
	ctx := ctxFor(t)
	first, err := ka.AppendKeyed(ctx, "cmd-1", "orders", eventstore.NoStream, []eventstore.Event{jsonEvent("A", 1)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := kb.AppendKeyed(ctx, "cmd-1", "orders", eventstore.NoStream, []eventstore.Event{jsonEvent("B", 1)})
	if err != nil || res.Replayed || res.Position == first.Position {
		t.Errorf("tenant-b: AppendKeyed with tenant-a's key = %+v, %v; want a fresh append", res, err)
	}
	again, err := ka.AppendKeyed(ctx, "cmd-1", "orders", eventstore.NoStream, []eventstore.Event{jsonEvent("A", 1)})
	want := first
	want.Replayed = true
	if err != nil || again != want {
		t.Errorf("tenant-a: AppendKeyed again = %+v, %v; want %+v", again, err, want)
	}
	if dk, ok := eventstore.As[eventstore.KeyedAppender](s); ok {
		res, err := dk.AppendKeyed(ctx, "cmd-1", "orders", eventstore.NoStream, []eventstore.Event{jsonEvent("D", 1)})
		if err != nil || res.Replayed {
			t.Errorf("default tenant: AppendKeyed with tenant-a's key = %+v, %v; want a fresh append", res, err)
		}
	}
	if n := len(readStream(t, kb, "orders")); n != 1 {
		t.Errorf("tenant-b: stream has %d events, want 1", n)
	}
}

// Command outcomes are per tenant: a refusal recorded in one tenant is
// unknown to the others, which record their own outcome for the same key,
// and the all-tenants view records and looks up nothing.
func testTenantOutcomes(t *testing.T, cfg Config) {
	s := cfg.New(t)
	oa, ok1 := eventstore.As[eventstore.OutcomeStore](forTenant(t, cfg, s, "tenant-a"))
	ob, ok2 := eventstore.As[eventstore.OutcomeStore](forTenant(t, cfg, s, "tenant-b"))
	if !ok1 || !ok2 {
		return // the store keeps no outcomes: nothing to keep apart
	}
	ctx := ctxFor(t)
	refusal := eventstore.Refusal{Code: "a", Message: "tenant-a refused"}
	if _, err := oa.RecordRefusal(ctx, eventstore.CommandKey{Key: "cmd-1", Hash: hashA}, "orders", refusal); err != nil {
		t.Fatal(err)
	}
	if rec, ok, err := ob.LookupKey(ctx, "cmd-1"); ok || err != nil {
		t.Errorf("tenant-b: LookupKey of tenant-a's key = %+v, %v, %v; want not found", rec, ok, err)
	}
	if d, ok := eventstore.As[eventstore.OutcomeStore](s); ok {
		if rec, found, err := d.LookupKey(ctx, "cmd-1"); found || err != nil {
			t.Errorf("default tenant: LookupKey of tenant-a's key = %+v, %v, %v; want not found", rec, found, err)
		}
	}
	// Another command under the same key in tenant-b is no reuse.
	rec, err := ob.AppendCommand(ctx, eventstore.CommandKey{Key: "cmd-1", Hash: hashB}, "orders", eventstore.NoStream, []eventstore.Event{jsonEvent("B", 1)})
	if err != nil || rec.Result.Replayed || rec.Refusal != nil {
		t.Errorf("tenant-b: AppendCommand with tenant-a's key = %+v, %v; want a fresh append", rec, err)
	}
	if rec, ok, err := oa.LookupKey(ctx, "cmd-1"); err != nil || !ok || rec.Refusal == nil || *rec.Refusal != refusal {
		t.Errorf("tenant-a: LookupKey = %+v, %v, %v; want its refusal", rec, ok, err)
	}
	if all, ok := eventstore.As[eventstore.OutcomeStore](allTenants(t, s)); ok {
		if _, _, err := all.LookupKey(ctx, "cmd-1"); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("all tenants: LookupKey = %v, want ErrInvalidInput", err)
		}
		if _, err := all.RecordRefusal(ctx, eventstore.CommandKey{Key: "cmd-2"}, "orders", refusal); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("all tenants: RecordRefusal = %v, want ErrInvalidInput", err)
		}
	}
}

// Event IDs are unique across the store: reusing another tenant's ID fails
// and stores nothing, and is never taken for a retry of the other tenant's
// append (which would hand out its version and position).
func testTenantEventIDs(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	a, b := forTenant(t, cfg, s, "tenant-a"), forTenant(t, cfg, s, "tenant-b")
	batch := []eventstore.Event{{ID: eventstore.NewEventID(), Type: "A", Data: []byte(`{}`)}}
	first := mustAppend(t, a, "same", eventstore.NoStream, batch...)
	for _, exp := range []eventstore.ExpectedVersion{eventstore.NoStream, eventstore.Any, eventstore.Exact(1)} {
		res, err := b.Append(ctx, "same", exp, batch)
		if !errors.Is(err, eventstore.ErrDuplicateEvent) {
			t.Errorf("tenant-b: Append(%v) of tenant-a's event ID = %+v, %v; want ErrDuplicateEvent", exp, res, err)
		}
	}
	if _, err := b.ReadStream(ctx, "same", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("tenant-b: after rejected appends ReadStream = %v, want ErrStreamNotFound", err)
	}
	again, err := a.Append(ctx, "same", eventstore.NoStream, batch)
	if err != nil || !again.Replayed || again.Position != first.Position {
		t.Errorf("tenant-a: retry = %+v, %v; want a replay of %+v", again, err, first)
	}
}

func testTenantInvalid(t *testing.T, cfg Config) {
	s := cfg.New(t)
	for _, c := range []struct{ name, tenant string }{
		{"empty", ""},
		{"too long", strings.Repeat("t", eventstore.MaxTenantBytes+1)},
		{"invalid UTF-8", "bad-\xff"},
		{"NUL", "bad\x00tenant"},
	} {
		_, err := eventstore.ForTenant(s, c.tenant)
		var ie *eventstore.InvalidInputError
		if !errors.As(err, &ie) || ie.Field != "tenant ID" {
			t.Errorf("%s: ForTenant = %v, want an *InvalidInputError naming the tenant ID", c.name, err)
		}
	}
	// Hostile but valid tenant IDs are stored verbatim and kept apart.
	ids := []string{`'; DROP TABLE events; --`, "ünïcødé 🙂", "a/b", "a", "A", strings.Repeat("t", eventstore.MaxTenantBytes)}
	for i, id := range ids {
		mustAppend(t, forTenant(t, cfg, s, id), "s", eventstore.NoStream, jsonEvent("E", i))
	}
	for i, id := range ids {
		recs := readStream(t, forTenant(t, cfg, s, id), "s")
		if len(recs) != 1 || recs[0].Tenant != id || string(recs[0].Data) != string(jsonEvent("E", i).Data) {
			t.Errorf("tenant %q: stream reads back as %+v", id, recs)
		}
	}
}

func testAllTenantsReadsOnly(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	mustAppend(t, forTenant(t, cfg, s, "tenant-a"), "s", eventstore.NoStream, jsonEvent("A", 1))
	all := allTenants(t, s)
	// The reader is an eventstore.LogReader; a concrete type behind it
	// that can append or read a stream must refuse to.
	if st, ok := eventstore.As[eventstore.Store](all); ok {
		if _, err := st.Append(ctx, "s", eventstore.Any, []eventstore.Event{jsonEvent("X", 1)}); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("all tenants: Append = %v, want ErrInvalidInput", err)
		}
		if _, err := st.ReadStream(ctx, "s", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("all tenants: ReadStream = %v, want ErrInvalidInput", err)
		}
	}
	if ka, ok := eventstore.As[eventstore.KeyedAppender](all); ok {
		if _, err := ka.AppendKeyed(ctx, "k", "s", eventstore.Any, []eventstore.Event{jsonEvent("X", 1)}); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("all tenants: AppendKeyed = %v, want ErrInvalidInput", err)
		}
	}
	if n := len(readAllUntil(t, cfg, all, 1)); n != 1 {
		t.Errorf("all tenants: log has %d events, want 1", n)
	}
}

// A tenant's view never falls back to the default tenant: a stream only
// the default tenant has is not found in the tenant, in either direction,
// and the tenant's first append to that stream ID is its version 1.
func testTenantNoFallback(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	a := forTenant(t, cfg, s, "tenant-a")
	mustAppend(t, s, "default-only", eventstore.NoStream, jsonEvent("D", 1), jsonEvent("D", 2))
	for _, c := range []struct {
		from int64
		dir  eventstore.Direction
	}{{0, eventstore.Forward}, {2, eventstore.Forward}, {eventstore.StreamEnd, eventstore.Backward}, {1, eventstore.Backward}} {
		if recs, err := a.ReadStream(ctx, "default-only", c.from, c.dir, 1); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Errorf("tenant-a: ReadStream(default-only, from %d, dir %d) = %d records, %v; want ErrStreamNotFound", c.from, c.dir, len(recs), err)
		}
	}
	if head, ok := headOf(t, a); ok && !head.IsZero() {
		t.Errorf("tenant-a without events: Head = %v, want the zero Position", head)
	}
	if res := mustAppend(t, a, "default-only", eventstore.NoStream, jsonEvent("A", 1)); res.StreamVersion != 1 {
		t.Errorf("tenant-a: first append to default-only at version %d, want 1", res.StreamVersion)
	}
	if recs := readStream(t, s, "default-only"); len(recs) != 2 || recs[0].Tenant != "" {
		t.Errorf("default tenant: default-only has %d events (%+v), want its own 2", len(recs), recs)
	}
}

// The tenant views reject an invalid tenant ID, and only the all-tenants
// reader claims to read every tenant (eventstore.ReadsAllTenants).
func testTenantScoper(t *testing.T, cfg Config) {
	s := cfg.New(t)
	if _, err := eventstore.ForTenant(s, ""); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ForTenant(\"\") = %v, want ErrInvalidInput", err)
	}
	all := allTenants(t, s)
	if _, ok := eventstore.As[eventstore.AllTenantsView](all); ok && !eventstore.ReadsAllTenants(all) {
		t.Errorf("AllTenants: ReadsAllTenants = false")
	}
	if eventstore.ReadsAllTenants(forTenant(t, cfg, s, "tenant-a")) || eventstore.ReadsAllTenants(s) {
		t.Errorf("a tenant's view or the default view claims to read all tenants")
	}
}
