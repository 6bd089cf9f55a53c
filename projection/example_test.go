package projection_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
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

	// The registry the command side encodes events with: the projection
	// decodes through it (type names, upcasters, codec).
	type AccountOpened struct{ Owner string }
	type MoneyDeposited struct{ Amount int64 }
	reg := command.NewRegistry(nil)
	if err := errors.Join(
		command.Register[AccountOpened](reg, "AccountOpened", nil),
		command.Register[MoneyDeposited](reg, "MoneyDeposited", nil),
	); err != nil {
		log.Fatal(err)
	}

	p := projection.New("accounts", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e AccountOpened) error {
		return projection.Store(tx, accounts, rec.StreamID, Account{Owner: e.Owner})
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e MoneyDeposited) error {
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

	var batch []eventstore.Event
	for _, e := range []any{AccountOpened{Owner: "ada"}, MoneyDeposited{Amount: 120}} {
		ev, err := reg.Encode(e)
		if err != nil {
			log.Fatal(err)
		}
		batch = append(batch, ev)
	}
	res, err := events.Append(ctx, "account-1", eventstore.NoStream, batch)
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
