package pgstore_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/projection"
)

// Projections read the log from a hot standby; appends and everything else
// go to the primary. Compiled, not run: it needs a primary and a standby.
func Example_replica() {
	ctx := context.Background()
	primary, err := pgxpool.New(ctx, "postgres://eventfold@primary.example:5432/eventfold")
	if err != nil {
		log.Fatal(err)
	}
	defer primary.Close()
	standby, err := pgxpool.New(ctx, "postgres://eventfold@standby.example:5432/eventfold")
	if err != nil {
		log.Fatal(err)
	}
	defer standby.Close()

	store, err := pgstore.New(primary, nil)
	if err != nil {
		log.Fatal(err)
	}
	// ReadAll reads the standby while it is up and at most 16 MiB of WAL
	// behind, and the primary otherwise.
	replica, err := store.WithReplica(standby, &pgstore.ReplicaOptions{MaxLagBytes: 16 << 20})
	if err != nil {
		log.Fatal(err)
	}
	source := projection.LogSource(replica, nil) // a projection.Config's Source
	_ = source

	lag, err := replica.Lag(ctx)
	if err != nil {
		log.Printf("standby unreachable, reading the primary: %v", err)
		return
	}
	log.Printf("standby %d bytes behind", lag.Bytes)
}
