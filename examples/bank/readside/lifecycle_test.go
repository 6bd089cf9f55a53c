package readside_test

import (
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/projectiontest"

	"github.com/eventfold/eventfold/examples/bank/domain"
	"github.com/eventfold/eventfold/examples/bank/readside"
)

// Deleting an account's stream closes it on the read side: its document
// and its statement go, other accounts stay.
func TestDeletedAccountLeavesTheReadSide(t *testing.T) {
	reg, err := domain.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	given := func(s *projectiontest.Scenario) *projectiontest.Scenario {
		return s.
			Given(domain.AccountStream("a1"), domain.AccountOpened{AccountID: "a1", Owner: "Ada"},
				domain.MoneyDeposited{AccountID: "a1", Amount: 5, Balance: 5}).
			Given(domain.AccountStream("b2"), domain.AccountOpened{AccountID: "b2", Owner: "Bob"},
				domain.MoneyDeposited{AccountID: "b2", Amount: 7, Balance: 7}).
			GivenDeleted(domain.AccountStream("a1"), eventstore.SoftDelete)
	}

	accounts := given(projectiontest.For(t, readside.Accounts(reg), memstore.NewReadModels(nil)))
	if got := projectiontest.Documents(accounts, readside.AccountModel); len(got) != 1 || got["b2"].Balance != 7 {
		t.Errorf("accounts after a1's stream was deleted = %+v, want b2 alone", got)
	}
	ledger := given(projectiontest.For(t, readside.Ledger(reg), memstore.NewReadModels(nil)))
	got := projectiontest.Documents(ledger, readside.LedgerModel)
	if _, ok := got[readside.LedgerEntryID("b2", 2)]; len(got) != 1 || !ok {
		t.Errorf("ledger after a1's stream was deleted = %+v, want b2's deposit alone", got)
	}
}
