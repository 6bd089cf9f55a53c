package projectiontest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
	"github.com/eventfold/eventfold/readmodel"
)

// ExampleFor tests a projection the given/then way, inside a test
// function: given these events, then these documents.
func ExampleFor() {
	var t *testing.T // the test's own

	type Opened struct{ Owner string }
	type Deposited struct{ Amount int64 }
	type Account struct {
		Owner   string
		Balance int64
	}
	accounts := readmodel.Model[Account]{}

	// The registry the command side writes events with.
	reg := command.NewRegistry(nil)
	if err := errors.Join(
		command.Register[Opened](reg, "AccountOpened", nil),
		command.Register[Deposited](reg, "MoneyDeposited", nil),
	); err != nil {
		t.Fatal(err)
	}
	p := projection.New("accounts", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e Opened) error {
		return projection.Store(tx, accounts, rec.StreamID, Account{Owner: e.Owner})
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e Deposited) error {
		a, _, err := projection.Load(ctx, tx, accounts, rec.StreamID)
		if err != nil {
			return err
		}
		a.Balance += e.Amount
		return projection.Store(tx, accounts, rec.StreamID, a)
	})

	s := projectiontest.For(t, p, memstore.NewReadModels(nil)).
		Given("account-1", Opened{Owner: "ada"}, Deposited{Amount: 120}).
		Given("account-2", Opened{Owner: "bob"})
	projectiontest.ThenDocuments(s, accounts, map[string]Account{
		"account-1": {Owner: "ada", Balance: 120},
		"account-2": {Owner: "bob"},
	})
}
