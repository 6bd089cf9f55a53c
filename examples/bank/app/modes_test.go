package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/examples/bank/app"
	"github.com/eventfold/eventfold/examples/bank/domain"
	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// An API process has no background workers, but its Run still lasts until
// it is stopped: the process serving the API must not end early.
func TestAPIModeRunsUntilStopped(t *testing.T) {
	cfg := banktest.Config(t, false)
	cfg.Mode = app.ModeAPI
	a, err := app.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run in mode api returned %v before it was stopped", err)
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// The accounts handler saves snapshots, so a long-lived account does not
// replay its whole history on every command.
func TestAccountsAreSnapshotted(t *testing.T) {
	cfg := banktest.Config(t, false)
	base := banktest.Start(t, cfg)
	banktest.Want(t, 201, "POST", base+"/accounts", `{"id":"ada","owner":"ada"}`)
	for i := range 120 {
		banktest.Want(t, 200, "POST", base+"/accounts/ada/deposits", fmt.Sprintf(`{"amount":%d}`, i+1))
	}
	pool, err := pgxpool.New(t.Context(), servicetest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var version int64
	q := "SELECT stream_version FROM " + pgx.Identifier{cfg.Schema}.Sanitize() + ".snapshots WHERE stream_id = $1"
	if err := pool.QueryRow(t.Context(), q, domain.AccountStream("ada")).Scan(&version); err != nil {
		t.Fatalf("snapshot of ada's account: %v", err)
	}
	if version < 100 {
		t.Errorf("snapshot at version %d, want at least 100", version)
	}
}
