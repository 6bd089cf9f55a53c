package pgstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
	"github.com/eventfold/eventfold/internal/testenv"
)

func TestSnapshotsConformance(t *testing.T) {
	commandtest.RunSnapshotStore(t, commandtest.SnapshotConfig{
		Features: commandtest.Features{Tenants: true},
		New: func(t testing.TB) command.SnapshotStore {
			pool, schema := testenv.Schema(t)
			opts := &pgstore.Options{Schema: schema}
			if err := pgstore.Migrate(context.Background(), pool, opts); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			return pgstore.NewSnapshots(pool, opts)
		},
	})
}

// A Store's Snapshots are in its schema and confined to its tenant.
func TestStoreSnapshotsFollowTheView(t *testing.T) {
	ctx := context.Background()
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	acme, err := store.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	snap := command.Snapshot{StreamID: "s-1", Version: 3, SchemaVersion: 1, State: []byte(`{"n":3}`)}
	if err := acme.Snapshots().Save(ctx, snap); err != nil {
		t.Fatal(err)
	}
	got, err := pgstore.NewSnapshots(pool, opts).ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	if loaded, err := got.Load(ctx, "s-1"); err != nil || loaded.Version != 3 {
		t.Errorf("acme's snapshot through NewSnapshots: %+v, %v", loaded, err)
	}
	if _, err := store.Snapshots().Load(ctx, "s-1"); !errors.Is(err, command.ErrSnapshotNotFound) {
		t.Errorf("the default tenant sees acme's snapshot: %v", err)
	}
}
