package testenv_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/internal/testenv"
)

// TestPGStandby checks that a row committed on the primary reaches the
// standby, and that the standby serves reads again after a restart.
func TestPGStandby(t *testing.T) {
	p := testenv.PGStandby(t)
	ctx := context.Background()
	primary, err := pgx.Connect(ctx, p.Primary.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close(ctx)
	if _, err := primary.Exec(ctx, "CREATE TABLE probe(n int); INSERT INTO probe VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		if err := p.WaitReplayed(ctx); err != nil {
			t.Fatal(err)
		}
		standby, err := pgx.Connect(ctx, p.Standby.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer standby.Close(ctx)
		var n int
		if err := standby.QueryRow(ctx, "SELECT count(*) FROM probe").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("standby has %d rows, want 1", n)
	}
	p.Standby.Stop()
	if _, err := primary.Exec(ctx, "INSERT INTO probe VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := p.Standby.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("restarted standby has %d rows, want 2", n)
	}
}
