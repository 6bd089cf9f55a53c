// Command pgdemo appends a few events to PostgreSQL through pgstore and reads
// them back, one stream and then the global log. It is the smallest complete
// use of the write side:
//
//	cd examples && go run ./pgdemo
//
// It connects to EVENTFOLD_POSTGRES_URL (default: the database that
// scripts/services.sh sets up) and works in its own schema, which it drops
// again at the end unless -keep is set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
)

func main() {
	keep := flag.Bool("keep", false, "keep the demo schema and its events")
	flag.Parse()
	url := os.Getenv("EVENTFOLD_POSTGRES_URL")
	if url == "" {
		url = "postgres://eventfold:eventfold@127.0.0.1:5432/eventfold?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, url, *keep); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url string, keep bool) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()

	opts := &pgstore.Options{Schema: fmt.Sprintf("demo_%d", time.Now().UnixNano())}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		return err
	}
	if !keep {
		defer pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{opts.Schema}.Sanitize()+" CASCADE") //nolint:errcheck
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		return err
	}
	fmt.Printf("migrated schema %s\n", opts.Schema)

	res, err := store.Append(ctx, "account-42", eventstore.NoStream, []eventstore.Event{
		{Type: "AccountOpened", Data: []byte(`{"owner":"Ada"}`), Metadata: eventstore.Metadata{CorrelationID: "demo"}},
		{Type: "MoneyDeposited", Data: []byte(`{"amount":100}`)},
	})
	if err != nil {
		return err
	}
	fmt.Printf("appended 2 events to account-42: version %d, consistency token %s\n", res.StreamVersion, res.Position)

	// A second writer that still believes the stream is new loses, and the
	// error says why.
	_, err = store.Append(ctx, "account-42", eventstore.NoStream, []eventstore.Event{{Type: "AccountOpened", Data: []byte(`{"owner":"Bob"}`)}})
	var conflict *eventstore.ConcurrencyError
	if !errors.As(err, &conflict) {
		return fmt.Errorf("expected a concurrency conflict, got %v", err)
	}
	fmt.Printf("a stale writer was refused: %v\n", err)

	if _, err := store.Append(ctx, "account-7", eventstore.Any, []eventstore.Event{{Type: "AccountOpened", Data: []byte(`{"owner":"Grace"}`)}}); err != nil {
		return err
	}
	recs, err := store.ReadStream(ctx, "account-42", 0, eventstore.Forward, 0)
	if err != nil {
		return err
	}
	fmt.Println("stream account-42:")
	for _, r := range recs {
		fmt.Printf("  v%d %-15s %s\n", r.Version, r.Type, r.Data)
	}

	fmt.Println("global log:")
	var after eventstore.Position
	for seen := 0; seen < 3; {
		page, err := store.ReadAll(ctx, after, 0)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			time.Sleep(10 * time.Millisecond) // older transactions elsewhere are still open
			continue
		}
		for _, r := range page {
			fmt.Printf("  %-10s %-11s v%d %s\n", r.Position, r.StreamID, r.Version, r.Type)
		}
		seen += len(page)
		after = page[len(page)-1].Position
	}
	return nil
}
