package pgstore_test

import (
	"context"
	"errors"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
)

// Two shards, a map kept in a directory database, and a tenant moved from
// one shard to the other. (Not run: it needs three databases.)
func ExampleMoveTenant() {
	ctx := context.Background()
	east, _ := pgxpool.New(ctx, "postgres://app@east.internal/eventfold")
	west, _ := pgxpool.New(ctx, "postgres://app@west.internal/eventfold")
	directory, _ := pgxpool.New(ctx, "postgres://app@directory.internal/eventfold")
	eastStore, _ := pgstore.New(east, nil)
	westStore, _ := pgstore.New(west, nil)
	shardMap, _ := pgstore.NewShardMap(directory, "east", nil)
	shards, _ := eventstore.NewShards(map[string]eventstore.Store{"east": eastStore, "west": westStore}, shardMap)

	// acme's writes fail with ErrTenantFenced from the fence to the flip.
	if _, err := pgstore.MoveTenant(ctx, "acme", eastStore, westStore, shardMap, "west"); err != nil {
		log.Fatal(err) // run it again: every step is idempotent
	}
	_, err := shards.Append(ctx, "acme", "order-1", eventstore.Any, []eventstore.Event{{Type: "Placed", Data: []byte(`{}`)}})
	if errors.Is(err, eventstore.ErrTenantFenced) {
		log.Print("acme is moving; retry later")
	}
	// Then rebuild acme's projections from westStore's log (docs/tenancy.md).
}
