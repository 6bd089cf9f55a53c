package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// TestHeldBackNamesTheOpenTransaction: a transaction that took an ID and
// stays open hides the events committed after it from readers of the log;
// HeldBack counts them, per view, and names that transaction.
func TestHeldBackNamesTheOpenTransaction(t *testing.T) {
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	ctx := t.Context()
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	acme, err := store.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	event := []eventstore.Event{{Type: "E", Data: []byte(`{}`)}}
	if _, err := store.Append(ctx, "before", eventstore.NoStream, event); err != nil {
		t.Fatal(err)
	}
	head, err := store.AllTenants().Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The horizon is the database's: a transaction another test left open
	// before "before" committed would hide it too. Start from a log nothing
	// holds back, so that the counts below are this test's hold alone.
	testenv.Eventually(t, 30*time.Second, func() bool {
		hb, err := store.AllTenants().HeldBack(ctx)
		return err == nil && hb.Events == 0
	}, "the log stayed held back by other transactions")

	// A forgotten transaction: it took an ID and stays open.
	pid, endHold := testenv.HoldLog(t, pool)

	if _, err := store.Append(ctx, "after", eventstore.NoStream, event); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.Append(ctx, "after", eventstore.NoStream, append(event, event...)); err != nil {
		t.Fatal(err)
	}
	if recs, err := store.AllTenants().ReadAll(ctx, head, 10); err != nil || len(recs) != 0 {
		t.Fatalf("ReadAll after the head = %d records, %v; want none while the transaction is open", len(recs), err)
	}
	for name, tc := range map[string]struct {
		view interface {
			HeldBack(context.Context) (pgstore.HeldBack, error)
		}
		want int64
	}{"default": {store, 1}, "acme": {acme, 2}, "all": {store.AllTenants(), 3}} {
		hb, err := tc.view.HeldBack(ctx)
		if err != nil {
			t.Fatalf("%s: HeldBack = %v", name, err)
		}
		if hb.Events != tc.want {
			t.Errorf("%s: HeldBack.Events = %d, want %d", name, hb.Events, tc.want)
		}
		var found *pgstore.HorizonHolder
		for i := range hb.Holders {
			if hb.Holders[i].PID == pid {
				found = &hb.Holders[i]
			}
		}
		if found == nil {
			t.Errorf("%s: holders %+v do not include the open transaction's backend %d", name, hb.Holders, pid)
		} else if found.State != "idle in transaction" || found.XIDAge < 3 || found.Started.IsZero() || found.User == "" {
			t.Errorf("%s: holder = %+v, want state idle in transaction, an XID age of 3 or more (three appends since), a start time and a user", name, *found)
		}
	}

	if n, since, err := store.AllTenants().HeldBackEvents(ctx); err != nil || n != 3 || since.IsZero() || time.Since(since) < 0 {
		t.Errorf("HeldBackEvents = %d, %v, %v; want 3 since the open transaction began", n, since, err)
	}

	endHold()
	// Other tests' transactions may hold the log for a moment too.
	deadline := time.Now().Add(30 * time.Second)
	for {
		hb, err := store.AllTenants().HeldBack(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if hb.Events == 0 && len(hb.Holders) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rollback HeldBack = %+v, want nothing held back", hb)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, since, err := store.AllTenants().HeldBackEvents(ctx); err != nil || n != 0 || !since.IsZero() {
		t.Errorf("HeldBackEvents after the rollback = %d, %v, %v; want 0 and no start time", n, since, err)
	}
	if recs, err := store.AllTenants().ReadAll(ctx, head, 10); err != nil || len(recs) != 3 {
		t.Errorf("ReadAll after the rollback = %d records, %v; want the 3 held back", len(recs), err)
	}
}

// appRoleStore returns a store on schema whose connections run as role
// eventfold_app (made by scripts/services.sh), with the grants an
// application role has.
func appRoleStore(t *testing.T, owner *pgxpool.Pool, schema string) *pgstore.Store {
	t.Helper()
	ctx := t.Context()
	var member bool
	err := owner.QueryRow(ctx, "SELECT pg_has_role(current_user, 'eventfold_app', 'MEMBER')").Scan(&member)
	if err == nil && !member {
		err = errors.New("the test role is not a member of eventfold_app")
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL role eventfold_app", err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	for _, grant := range []string{
		"GRANT USAGE ON SCHEMA " + q + " TO eventfold_app",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + q + " TO eventfold_app",
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA " + q + " TO eventfold_app",
		"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA " + q + " TO eventfold_app",
	} {
		if _, err := owner.Exec(ctx, grant); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE eventfold_app")
		return err
	}
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	s, err := pgstore.New(app, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHeldBackByAnotherRole: PostgreSQL hides the state and start of
// another role's transaction in pg_stat_activity. The store, running as
// eventfold_app, still measures how long the log has been held back, from
// the oldest held-back event, and says the holder's details are hidden.
func TestHeldBackByAnotherRole(t *testing.T) {
	owner, schema := testenv.Schema(t)
	ctx := t.Context()
	if err := pgstore.Migrate(ctx, owner, &pgstore.Options{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	app := appRoleStore(t, owner, schema)
	pid, _ := testenv.HoldLog(t, owner) // held by the test's own role
	held := time.Now()
	if _, err := app.Append(ctx, "after", eventstore.NoStream, []eventstore.Event{{Type: "E", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)

	n, since, err := app.AllTenants().HeldBackEvents(ctx)
	if err != nil || n != 1 {
		t.Fatalf("HeldBackEvents as another role = %d, %v; want 1", n, err)
	}
	if d := time.Since(since); d < time.Second || since.Before(held.Add(-time.Minute)) {
		t.Errorf("HeldBackEvents as another role: held back since %s (%s ago); want since the append, 1.5 s ago", since, d.Round(time.Millisecond))
	}
	hb, err := app.AllTenants().HeldBack(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found *pgstore.HorizonHolder
	for i := range hb.Holders {
		if hb.Holders[i].PID == pid {
			found = &hb.Holders[i]
		}
	}
	if found == nil {
		t.Fatalf("holders %+v do not include the open transaction's backend %d", hb.Holders, pid)
	}
	if !found.Hidden || !found.Started.IsZero() || found.State != "" || found.Query != "" || found.User == "" {
		t.Errorf("holder seen by another role = %+v; want it marked hidden, its user, and no made-up start time, state or query", *found)
	}
	if hb.Since.IsZero() || time.Since(hb.Since) < time.Second {
		t.Errorf("HeldBack.Since = %s; want the held-back event's time, 1.5 s ago", hb.Since)
	}
}
