package pgstore_test

import (
	"context"
	"testing"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
	"github.com/eventfold/eventfold/internal/testenv"
)

func TestSnapshotsConformance(t *testing.T) {
	commandtest.RunSnapshotStore(t, func(t testing.TB) command.SnapshotStore {
		pool, schema := testenv.Schema(t)
		opts := &pgstore.Options{Schema: schema}
		if err := pgstore.Migrate(context.Background(), pool, opts); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return pgstore.NewSnapshots(pool, opts)
	})
}
