package projection_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// Example builds a read model of account balances from the log, waits for
// a write to be visible, and queries it by index.
func Example() {
	ctx := context.Background()
	events := memstore.New(nil)               // in production: pgstore
	readModels := memstore.NewReadModels(nil) // in production: redisstore

	type Account struct {
		Owner   string `json:"owner"`
		Balance int64  `json:"balance"`
	}
	accounts := readmodel.Model[Account]{Indexes: []readmodel.Index[Account]{
		readmodel.By("owner", func(a Account) readmodel.Value { return readmodel.String(a.Owner) }),
	}}

	p := projection.New("accounts", "1")
	projection.Handle(p, "AccountOpened", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e struct{ Owner string }) error {
		return projection.Store(tx, accounts, rec.StreamID, Account{Owner: e.Owner})
	})
	projection.Handle(p, "MoneyDeposited", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e struct{ Amount int64 }) error {
		a, _, err := projection.Load(ctx, tx, accounts, rec.StreamID)
		if err != nil {
			return err
		}
		a.Balance += e.Amount
		return projection.Store(tx, accounts, rec.StreamID, a)
	})

	runner, err := projection.NewRunner(projection.Config{
		Projection: p,
		Source:     projection.LogSource(events, nil),
		Store:      readModels,
	})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go runner.Run(runCtx) //nolint:errcheck

	res, err := events.Append(ctx, "account-1", eventstore.NoStream, []eventstore.Event{
		{Type: "AccountOpened", Data: []byte(`{"Owner":"ada"}`)},
		{Type: "MoneyDeposited", Data: []byte(`{"Amount":120}`)},
	})
	if err != nil {
		log.Fatal(err)
	}

	// Read-your-writes: wait until the projection includes the append.
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := projection.WaitFor(waitCtx, readModels, "accounts", "", res.Position); err != nil {
		log.Fatal(err)
	}

	ns, err := projection.Active(ctx, readModels, "accounts", "")
	if err != nil {
		log.Fatal(err)
	}
	view := accounts.View(readmodel.ReadOnly(readModels), ns)
	page, err := view.Query(ctx, readmodel.Equal("owner", readmodel.String("ada")))
	if err != nil {
		log.Fatal(err)
	}
	for _, item := range page.Items {
		fmt.Printf("%s: %s has %d\n", item.ID, item.Doc.Owner, item.Doc.Balance)
	}
	// Output: account-1: ada has 120
}
