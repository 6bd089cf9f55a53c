package testenv_test

import (
	"context"
	"testing"

	"github.com/eventfold/eventfold/internal/testenv"
)

// Two clusters start side by side, and one survives a kill and a restart
// with its committed data.
func TestPGCluster(t *testing.T) {
	a, b := testenv.PGCluster(t), testenv.PGCluster(t)
	if a.Port() == b.Port() {
		t.Fatalf("both clusters on port %d", a.Port())
	}
	ctx := context.Background()
	pa := a.Pool(t)
	if _, err := pa.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	a.Kill()
	if err := pa.Ping(ctx); err == nil {
		if _, err := pa.Exec(ctx, "SELECT 1"); err == nil {
			t.Fatal("the killed cluster still answers")
		}
	}
	a.Start()
	var v int
	if err := pa.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 7 {
		t.Fatalf("after the restart: %d, %v", v, err)
	}
	var n int
	if err := b.Pool(t).QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'kept'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the other cluster: %d, %v", n, err)
	}
}
