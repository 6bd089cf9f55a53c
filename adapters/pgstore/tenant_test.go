package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

func mustTenant(t testing.TB, s *pgstore.Store, tenant string) *pgstore.Store {
	t.Helper()
	ts, err := s.ForTenant(tenant)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func oneEvent(n int) []eventstore.Event {
	return []eventstore.Event{{Type: "E", Data: []byte(fmt.Sprintf(`{"n":%d}`, n))}}
}

// The pgstore extras are per tenant too: ListStreams, PruneCommandKeys,
// Snapshots and Keys.
func TestTenantExtras(t *testing.T) {
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !eventstore.ReadsAllTenants(s.AllTenants()) || eventstore.ReadsAllTenants(s) || eventstore.ReadsAllTenants(mustTenant(t, s, "a")) {
		t.Error("ReadsAllTenants is not true for the AllTenants view alone")
	}
	ctx := t.Context()
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	for i, id := range []string{"x", "y"} {
		if _, err := a.Append(ctx, id, eventstore.NoStream, oneEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Append(ctx, "z", eventstore.NoStream, oneEvent(0)); err != nil {
		t.Fatal(err)
	}
	list := func(s *pgstore.Store) []string {
		infos, err := s.ListStreams(ctx, "", 10)
		if err != nil {
			t.Fatalf("ListStreams: %v", err)
		}
		var ids []string
		for _, i := range infos {
			ids = append(ids, i.ID)
		}
		return ids
	}
	if got := list(a); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("tenant a: ListStreams = %v, want [x y]", got)
	}
	if got := list(b); !slices.Equal(got, []string{"z"}) {
		t.Errorf("tenant b: ListStreams = %v, want [z]", got)
	}
	if got := list(s); len(got) != 0 {
		t.Errorf("default tenant: ListStreams = %v, want none", got)
	}
	if infos, err := b.ListStreamsWithPrefix(ctx, "x", "", 10); err != nil || len(infos) != 0 {
		t.Errorf("tenant b: ListStreamsWithPrefix(x) = %v, %v; want none of tenant a's", infos, err)
	}
	if infos, err := a.ListStreamsWithPrefix(ctx, "x", "", 10); err != nil || len(infos) != 1 {
		t.Errorf("tenant a: ListStreamsWithPrefix(x) = %v, %v; want [x]", infos, err)
	}

	// Correlation IDs: each tenant finds its own events; AllTenants finds all.
	flow := []eventstore.Event{{Type: "E", Data: []byte(`{}`), Metadata: eventstore.Metadata{CorrelationID: "req-1"}}}
	for _, st := range []*pgstore.Store{s, a, b} {
		if _, err := st.Append(ctx, "flow", eventstore.Any, flow); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		store interface {
			EventsByCorrelation(context.Context, string, int) ([]eventstore.Record, error)
		}
		want []string
	}{{"tenant a", a, []string{"a"}}, {"default", s, []string{""}}, {"all tenants", s.AllTenants(), []string{"", "a", "b"}}} {
		recs, err := c.store.EventsByCorrelation(ctx, "req-1", 10)
		var got []string
		for _, r := range recs {
			got = append(got, r.Tenant)
		}
		slices.Sort(got)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: EventsByCorrelation = tenants %q, %v; want %q", c.name, got, err, c.want)
		}
	}

	// Command keys: pruning a tenant's leaves the others'.
	for _, st := range []*pgstore.Store{s, a, b} {
		if _, err := st.AppendKeyed(ctx, "cmd", "keyed", eventstore.Any, oneEvent(1)); err != nil {
			t.Fatal(err)
		}
	}
	future := time.Now().Add(time.Hour)
	if n, err := a.PruneCommandKeys(ctx, future); err != nil || n != 1 {
		t.Errorf("tenant a: PruneCommandKeys = %d, %v; want 1", n, err)
	}
	if res, err := b.AppendKeyed(ctx, "cmd", "keyed", eventstore.Any, oneEvent(1)); err != nil || !res.Replayed {
		t.Errorf("tenant b: key pruned with tenant a's = %+v, %v; want a replay", res, err)
	}
	if n, err := s.AllTenants().PruneCommandKeys(ctx, future); err != nil || n != 2 {
		t.Errorf("all tenants: PruneCommandKeys = %d, %v; want 2", n, err)
	}

	// Snapshots.
	snaps := pgstore.NewSnapshots(pool, opts)
	sa, err := snaps.ForTenant("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Save(ctx, command.Snapshot{StreamID: "x", Version: 1, SchemaVersion: 1, State: []byte("a's")}); err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Load(ctx, "x"); !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Errorf("default tenant: Load of tenant a's snapshot = %v, want ErrSnapshotNotFound", err)
	}
	sb, _ := snaps.ForTenant("b")
	if err := sb.Save(ctx, command.Snapshot{StreamID: "x", Version: 1, SchemaVersion: 1, State: []byte("b's")}); err != nil {
		t.Fatal(err)
	}
	if snap, err := sa.Load(ctx, "x"); err != nil || string(snap.State) != "a's" {
		t.Errorf("tenant a: Load = %q, %v; want its own", snap.State, err)
	}
	if _, err := snaps.ForTenant(""); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("Snapshots.ForTenant(\"\") = %v, want ErrInvalidInput", err)
	}

	// Keys: the same subject has one key per tenant, forgotten separately.
	keys := pgstore.NewKeys(pool, opts)
	ka, _ := keys.ForTenant("a")
	kb, _ := keys.ForTenant("b")
	keyA, err := ka.Key(ctx, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := kb.Key(ctx, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(keyA, keyB) {
		t.Error("tenants a and b share the key of subject user-1")
	}
	if err := ka.Forget(ctx, "user-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := kb.Lookup(ctx, "user-1"); err != nil || !ok {
		t.Errorf("tenant b: key after tenant a forgot its own = %v, %v; want it kept", ok, err)
	}
	if _, ok, _ := keys.Lookup(ctx, "user-1"); ok {
		t.Error("default tenant sees a key of subject user-1")
	}
}

// With row-level security on, PostgreSQL itself keeps tenants apart: a raw
// SELECT with tenant a set returns none of tenant b's rows, a write of
// another tenant's row is refused, and a statement without the setting sees
// nothing. The application's role here is the owner with FORCE (the test
// role cannot create roles); a non-owner role without BYPASSRLS is bound
// the same way.
func TestRowLevelSecurity(t *testing.T) {
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema, RowLevelSecurity: true}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	// Rows of tenant b and of the default tenant from before RLS.
	plain, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	bID := eventstore.NewEventID()
	if _, err := mustTenant(t, plain, "b").AppendKeyed(ctx, "cmd-b", "acct", eventstore.NoStream,
		[]eventstore.Event{{ID: bID, Type: "E", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Append(ctx, "acct", eventstore.NoStream, oneEvent(2)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := pgstore.EnableRowLevelSecurity(ctx, pool, &pgstore.RowLevelSecurityOptions{Schema: schema, Force: true}); err != nil {
			t.Fatal(err)
		}
	}

	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := mustTenant(t, s, "a")
	first, err := a.AppendKeyed(ctx, "cmd-b", "acct", eventstore.NoStream, oneEvent(3))
	if err != nil || first.Replayed {
		t.Fatalf("tenant a under RLS: AppendKeyed = %+v, %v; want a fresh append", first, err)
	}
	if res, err := a.AppendKeyed(ctx, "cmd-b", "acct", eventstore.NoStream, oneEvent(3)); err != nil || !res.Replayed {
		t.Errorf("tenant a under RLS: AppendKeyed again = %+v, %v; want a replay", res, err)
	}
	if recs, err := a.ReadStream(ctx, "acct", 0, eventstore.Forward, 0); err != nil || len(recs) != 1 || recs[0].Tenant != "a" {
		t.Errorf("tenant a under RLS: ReadStream = %+v, %v; want its one event", recs, err)
	}
	if _, err := s.ReadStream(ctx, "acct", 0, eventstore.Forward, 0); err == nil {
		t.Error("default tenant under RLS: ReadStream succeeded, want an error naming ForTenant")
	}
	if _, err := s.Append(ctx, "acct", eventstore.Any, oneEvent(4)); err == nil {
		t.Error("default tenant under RLS: Append succeeded, want an error naming ForTenant")
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		recs, err := a.ReadAll(ctx, eventstore.Position{}, 0)
		return err == nil && len(recs) == 1
	}, "tenant a under RLS: ReadAll does not return its one event")
	if recs, err := mustTenant(t, s, "b").ReadAll(ctx, eventstore.Position{}, 0); err != nil || len(recs) != 1 || recs[0].Tenant != "b" {
		t.Errorf("tenant b under RLS: ReadAll = %+v, %v; want its one event", recs, err)
	}
	if head, err := a.Head(ctx); err != nil || head != first.Position {
		t.Errorf("tenant a under RLS: Head = %v, %v; want %v", head, err, first.Position)
	}
	// An event ID of tenant b is a duplicate, found without seeing b's row.
	reuse := []eventstore.Event{{ID: bID, Type: "E", Data: []byte(`{}`)}}
	if _, err := a.Append(ctx, "acct", eventstore.Any, reuse); !errors.Is(err, eventstore.ErrDuplicateEvent) {
		t.Errorf("tenant a under RLS: Append with tenant b's event ID = %v, want ErrDuplicateEvent", err)
	}
	// Snapshots and keys under RLS.
	snaps, _ := pgstore.NewSnapshots(pool, opts).ForTenant("a")
	if err := snaps.Save(ctx, command.Snapshot{StreamID: "acct", Version: 1, SchemaVersion: 1, State: []byte("s")}); err != nil {
		t.Errorf("tenant a under RLS: save snapshot: %v", err)
	}
	if _, err := snaps.Load(ctx, "acct"); err != nil {
		t.Errorf("tenant a under RLS: load snapshot: %v", err)
	}
	keys, _ := pgstore.NewKeys(pool, opts).ForTenant("a")
	if _, err := keys.Key(ctx, "user-1"); err != nil {
		t.Errorf("tenant a under RLS: Key: %v", err)
	}
	// Raw SQL, as any code with the application's connection could run it.
	q := pgx.Identifier{schema}.Sanitize()
	count := func(tenant *string, sql string) int {
		t.Helper()
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background()) //nolint:errcheck
		if tenant != nil {
			if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", pgstore.TenantSetting, *tenant); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := tx.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	tenantA := "a"
	for _, table := range []string{"events", "streams", "command_keys"} {
		if n := count(&tenantA, "SELECT count(*) FROM "+q+"."+table+" WHERE tenant_id = 'b'"); n != 0 {
			t.Errorf("raw SELECT of tenant b's %s with tenant a set: %d rows, want 0", table, n)
		}
		if n := count(&tenantA, "SELECT count(*) FROM "+q+"."+table+" WHERE tenant_id <> 'a'"); n != 0 {
			t.Errorf("raw SELECT of other tenants' %s with tenant a set: %d rows, want 0", table, n)
		}
		if n := count(&tenantA, "SELECT count(*) FROM "+q+"."+table); n != 1 {
			t.Errorf("raw SELECT of %s with tenant a set: %d rows, want tenant a's 1", table, n)
		}
		if n := count(nil, "SELECT count(*) FROM "+q+"."+table); n != 0 {
			t.Errorf("raw SELECT of %s without a tenant set: %d rows, want 0", table, n)
		}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT set_config($1, 'a', true)", pgstore.TenantSetting); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, "UPDATE "+q+".streams SET stream_id = 'renamed' WHERE tenant_id = 'b'")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+q+".streams (tenant_id, stream_id) VALUES ('b', 'forged')")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("raw INSERT of a tenant b row with tenant a set = %v, want an RLS violation (42501)", err)
	}
	tx.Rollback(ctx) //nolint:errcheck
	if n := count(nil, "SELECT count(*) FROM "+q+".streams WHERE stream_id = 'renamed'"); n != 0 {
		t.Errorf("tenant a's raw UPDATE of tenant b's stream changed %d rows", n)
	}

	// Refusals under command keys, and their lookup.
	refused := eventstore.CommandKey{Key: "cmd-refused", Hash: "h"}
	if _, err := a.RecordRefusal(ctx, refused, "acct", eventstore.Refusal{Code: "c", Message: "no"}); err != nil {
		t.Errorf("tenant a under RLS: RecordRefusal: %v", err)
	}
	if rec, ok, err := a.LookupKey(ctx, "cmd-refused"); err != nil || !ok || rec.Refusal == nil || rec.Refusal.Message != "no" {
		t.Errorf("tenant a under RLS: LookupKey = %+v, %v, %v; want its refusal", rec, ok, err)
	}
	if _, ok, err := mustTenant(t, s, "b").LookupKey(ctx, "cmd-refused"); ok || err != nil {
		t.Errorf("tenant b under RLS: LookupKey of tenant a's key = %v, %v; want not found", ok, err)
	}
	if _, err := mustTenant(t, plain, "a").RecordRefusal(ctx, eventstore.CommandKey{Key: "forged"}, "acct", eventstore.Refusal{Message: "no"}); err == nil {
		t.Error("a refusal recorded without the tenant setting succeeded under RLS")
	}

	// Stores that do not set the tenant are refused by PostgreSQL, whether
	// the connection never set one or set and reset it.
	for range 3 {
		if _, err := mustTenant(t, plain, "a").Append(ctx, "new", eventstore.NoStream, oneEvent(9)); err == nil {
			t.Error("an append without the tenant setting succeeded under RLS")
		}
		if _, err := plain.Append(ctx, "new", eventstore.NoStream, oneEvent(9)); err == nil {
			t.Error("an append to the default tenant without the tenant setting succeeded under RLS")
		}
	}
}

// RowLevelSecurity needs a DB that can send batches.
func TestRowLevelSecurityNeedsBatches(t *testing.T) {
	var db narrowDB
	if _, err := pgstore.New(db, &pgstore.Options{RowLevelSecurity: true}); err == nil {
		t.Error("New with RowLevelSecurity on a DB without SendBatch succeeded")
	}
}

// narrowDB is a DB without SendBatch.
type narrowDB struct{ pgstore.DB }

// TestRowLevelSecurityAsApplicationRole runs the store as docs/tenancy.md
// says an application should: as a role that owns nothing, with the grants
// listed there and the policies without FORCE. The role (eventfold_app,
// made by scripts/services.sh) sees and writes only the tenant it sets; the
// owner, as a relay or Migrate runs, still sees every tenant.
func TestRowLevelSecurityAsApplicationRole(t *testing.T) {
	owner, app, schema := applicationRole(t, 0)
	ctx := t.Context()
	opts := &pgstore.Options{Schema: schema, RowLevelSecurity: true}
	q := pgx.Identifier{schema}.Sanitize()
	s, err := pgstore.New(app, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	for _, ts := range []*pgstore.Store{a, b} {
		for v := range 3 { // NoStream, then the Exact fast path
			if _, err := ts.Append(ctx, "acct", eventstore.Exact(int64(v)), oneEvent(v)); err != nil {
				t.Fatalf("tenant %s as the application role: append %d: %v", ts.Tenant(), v, err)
			}
		}
	}
	if _, err := a.Append(ctx, "acct", eventstore.Exact(1), oneEvent(9)); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("tenant a as the application role: stale Exact append = %v, want ErrConcurrency", err)
	}
	if recs, err := a.ReadStream(ctx, "acct", 0, eventstore.Forward, 0); err != nil || len(recs) != 3 || recs[2].Tenant != "a" {
		t.Errorf("tenant a as the application role: ReadStream = %d records, %v; want its 3", len(recs), err)
	}
	if infos, err := a.ListStreams(ctx, "", 10); err != nil || len(infos) != 1 || infos[0].Version != 3 {
		t.Errorf("tenant a as the application role: ListStreams = %+v, %v; want acct at 3", infos, err)
	}
	raw := func(db interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}, sql string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	if n := raw(app, "SELECT count(*) FROM "+q+".events"); n != 0 {
		t.Errorf("the application role without a tenant set sees %d events, want 0", n)
	}
	var n int
	err = pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config($1, 'a', true)", pgstore.TenantSetting); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+q+".events").Scan(&n); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+q+".streams (tenant_id, stream_id) VALUES ('b', 'forged')")
		return err
	})
	var pgErr *pgconn.PgError
	if n != 3 || !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("the application role with tenant a set: sees %d events (want 3); writing a tenant b row: %v (want 42501)", n, err)
	}
	if n := raw(owner, "SELECT count(*) FROM "+q+".events"); n != 6 {
		t.Errorf("the owner sees %d events, want both tenants' 6", n)
	}
}
