package pgstore_test

import (
	"testing"
	"time"

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
		view *pgstore.Store
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
