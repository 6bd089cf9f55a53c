package app_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/examples/bank/app"
	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// startStoppable starts a bank process that the test can stop and start
// again; it returns the API's URL and the stop function.
func startStoppable(t *testing.T, cfg app.Config) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	srv := httptest.NewServer(a.Handler())
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("workers: %v", err)
		}
		a.Close()
	}
	t.Cleanup(stop)
	return srv.URL, stop
}

// The transfer process, run again over transfers it already carried out
// (its position lost with Redis and its checkpoint), never decides a step
// again: a debit refused for want of funds stays refused after the source
// is funded, and a credit refused because the destination did not exist
// stays refused after it is opened, so no failed transfer moves money and
// none is refunded and credited both. The outcome is checked on a fold of
// the events table.
func TestTransferProcessNeverDecidesAgain(t *testing.T) {
	cfg := banktest.Config(t, false)
	base, stop := startStoppable(t, cfg)
	banktest.Want(t, 201, "POST", base+"/accounts", `{"id":"ada","owner":"ada"}`)
	banktest.Want(t, 201, "POST", base+"/accounts", `{"id":"bob","owner":"bob"}`)
	r := banktest.Want(t, 202, "POST", base+"/transfers", `{"id":"t1","from":"ada","to":"bob","amount":50}`)
	if tr := banktest.Transfer(t, base, "t1", r.Token()); tr.Str("status") != "failed" {
		t.Fatalf("t1 from an empty account: %s", tr.Raw)
	}
	banktest.Want(t, 200, "POST", base+"/accounts/ada/deposits", `{"amount":100}`)
	r = banktest.Want(t, 202, "POST", base+"/transfers", `{"id":"t2","from":"ada","to":"carol","amount":30}`)
	if tr := banktest.Transfer(t, base, "t2", r.Token()); tr.Str("status") != "failed" {
		t.Fatalf("t2 to a missing account: %s", tr.Raw)
	}
	r = banktest.Want(t, 201, "POST", base+"/accounts", `{"id":"carol","owner":"carol"}`)
	stop()

	// Redis loses everything, and the process its checkpoint.
	servicetest.WipeRedis(t, cfg.RedisPrefix)
	resetProcessCheckpoints(t, cfg)
	base, _ = startStoppable(t, cfg)
	banktest.Want(t, 200, "GET", base+"/accounts/carol?token="+r.Token(), "")
	time.Sleep(2 * time.Second) // let a process that decides again do it

	ledger := banktest.Fold(t, cfg.PostgresURL, cfg.Schema)
	for _, v := range ledger.Violations() {
		t.Error(v)
	}
	if ledger.Balances["ada"] != 100 || ledger.Balances["carol"] != 0 {
		t.Errorf("balances %v, want ada 100, bob 0, carol 0", ledger.Balances)
	}
}

// resetProcessCheckpoints forgets every process manager's position, as if
// each had crashed before saving it.
func resetProcessCheckpoints(t *testing.T, cfg app.Config) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), cfg.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), "DELETE FROM "+pgx.Identifier{cfg.Schema}.Sanitize()+".checkpoints WHERE name LIKE 'process/%'"); err != nil {
		t.Fatal(err)
	}
}
