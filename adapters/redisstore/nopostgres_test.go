package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/readmodel"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
)

type account struct {
	Owner   string `json:"owner"`
	Balance int64  `json:"balance"`
}

var accounts = readmodel.Model[account]{Indexes: []readmodel.Index[account]{
	readmodel.By("by-owner", func(a account) readmodel.Value { return readmodel.String(a.Owner) }),
	readmodel.By("by-balance", func(a account) readmodel.Value { return readmodel.Int(a.Balance) }),
}}

// closedAddr returns a local TCP address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestQueriesWithoutPostgres shows that the query side needs only Redis: it
// fills a read model through the store, then, with the write side's
// PostgreSQL unreachable (a pool pointed at a closed port), starts a fresh
// read-only store, as a query process would, and serves correct answers.
func TestQueriesWithoutPostgres(t *testing.T) {
	t.Parallel()
	writer, client, prefix := newStore(t)
	ctx := context.Background()
	ns := readmodel.Namespace{Projection: "accounts", Version: "v1", Tenant: "acme"}

	// The projection's earlier work: 40 accounts, some updated, some closed.
	var b readmodel.Batch
	for i := range 40 {
		w, err := accounts.Put(fmt.Sprintf("acc-%02d", i), readmodel.Revision{Commit: 1, Sequence: uint64(i + 1)},
			account{Owner: fmt.Sprint("owner-", i%4), Balance: int64(i * 10)})
		if err != nil {
			t.Fatal(err)
		}
		b.Writes = append(b.Writes, w)
	}
	upd, _ := accounts.Put("acc-05", readmodel.Revision{Commit: 2, Sequence: 1}, account{Owner: "owner-1", Balance: 1000})
	b.Writes = append(b.Writes, upd, accounts.Delete("acc-07", readmodel.Revision{Commit: 2, Sequence: 2}))
	b.Checkpoint = "2-2"
	if _, err := writer.Apply(ctx, ns, b); err != nil {
		t.Fatal(err)
	}

	// The write side's PostgreSQL is down.
	pgURL := "postgres://eventfold:eventfold@" + closedAddr(t) + "/eventfold?sslmode=disable&connect_timeout=2"
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := pool.Exec(pctx, "SELECT 1"); err == nil {
		t.Fatal("the write side's PostgreSQL answered; the test needs it unreachable")
	} else {
		t.Logf("write side unavailable, as intended: %v", err)
	}

	// The query side: a new store on the same Redis, seen only as a Reader.
	s, err := redisstore.New(client, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	r := readmodel.ReadOnly(s)
	view := accounts.View(r, ns)

	st, err := r.State(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(readmodel.State{Initialized: true, Checkpoint: "2-2"}, st); diff != "" {
		t.Errorf("State mismatch (-want +got):\n%s", diff)
	}
	got, err := view.Get(ctx, "acc-05")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(account{"owner-1", 1000}, got); diff != "" {
		t.Errorf("Get(acc-05) mismatch (-want +got):\n%s", diff)
	}
	if _, err := view.Get(ctx, "acc-07"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Errorf("Get(closed account) = %v, want ErrNotFound", err)
	}
	many, err := view.GetMany(ctx, []string{"acc-00", "acc-07", "acc-39"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acc-00", "acc-39"}, ids(many)); diff != "" {
		t.Errorf("GetMany mismatch (-want +got):\n%s", diff)
	}
	// owner-3 has accounts 3, 7 (closed), 11, ..., 39.
	var owned []string
	q := readmodel.Equal("by-owner", readmodel.String("owner-3"))
	q.Limit = 3
	for {
		page, err := view.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		owned = append(owned, ids(page.Items)...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	want := []string{"acc-03", "acc-11", "acc-15", "acc-19", "acc-23", "acc-27", "acc-31", "acc-35", "acc-39"}
	if diff := cmp.Diff(want, owned); diff != "" {
		t.Errorf("accounts of owner-3 mismatch (-want +got):\n%s", diff)
	}
	// The three richest accounts with a balance of at most 380.
	q = readmodel.Between("by-balance", readmodel.Value{}, readmodel.Int(380))
	q.Descending, q.Limit = true, 3
	page, err := view.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acc-38", "acc-37", "acc-36"}, ids(page.Items)); diff != "" {
		t.Errorf("richest accounts mismatch (-want +got):\n%s", diff)
	}

	// And the write side is still down: nothing above went through it.
	if err := pool.Ping(pctx); err == nil {
		t.Fatal("PostgreSQL became reachable during the test")
	}
}

func ids[T any](items []readmodel.Item[T]) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}
