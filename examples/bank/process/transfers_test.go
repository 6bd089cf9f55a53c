package process_test

import (
	"testing"

	"github.com/eventfold/eventfold/command/commandtest"

	"github.com/eventfold/eventfold/examples/bank/domain"
	"github.com/eventfold/eventfold/examples/bank/process"
)

func scenario(t *testing.T) *commandtest.ProcessScenario {
	t.Helper()
	reg, err := domain.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return commandtest.ForProcess(t, reg, process.NewTransfers)
}

func TestTransferCompletes(t *testing.T) {
	scenario(t).
		Given("transfer-t1", domain.TransferRequested{TransferID: "t1", From: "ada", To: "bob", Amount: 50}).
		Given("account-ada", domain.MoneyWithdrawn{AccountID: "ada", Amount: 50, Balance: 50, TransferID: "t1", Counterparty: "bob"}).
		Given("account-bob", domain.MoneyDeposited{AccountID: "bob", Amount: 50, Balance: 50, TransferID: "t1", Counterparty: "ada"}).
		ThenSent(
			domain.Withdraw{AccountID: "ada", Amount: 50, TransferID: "t1", Counterparty: "bob"},
			domain.Deposit{AccountID: "bob", Amount: 50, TransferID: "t1", Counterparty: "ada"},
			domain.CompleteTransfer{TransferID: "t1"},
		)
}

func TestTransferFromAnEmptyAccountFails(t *testing.T) {
	scenario(t).
		Given("transfer-t1", domain.TransferRequested{TransferID: "t1", From: "ada", To: "bob", Amount: 50}).
		Refusing(func(cmd any) error {
			if _, ok := cmd.(domain.Withdraw); ok {
				return domain.ErrInsufficientFunds
			}
			return nil
		}).
		ThenSent(
			domain.Withdraw{AccountID: "ada", Amount: 50, TransferID: "t1", Counterparty: "bob"},
			domain.FailTransfer{TransferID: "t1", Reason: "source account: " + domain.ErrInsufficientFunds.Error()},
		)
}

// A credit refused because the destination does not exist is refunded,
// and the transfer fails; handled again, the same commands go out under
// the same keys, so the refund is never followed by a credit.
func TestTransferToAMissingAccountIsRefunded(t *testing.T) {
	scenario(t).
		Given("account-ada", domain.MoneyWithdrawn{AccountID: "ada", Amount: 30, Balance: 70, TransferID: "t2", Counterparty: "carol"}).
		Refusing(func(cmd any) error {
			if d, ok := cmd.(domain.Deposit); ok && d.AccountID == "carol" {
				return domain.ErrAccountNotFound
			}
			return nil
		}).
		ThenSent(
			domain.Deposit{AccountID: "carol", Amount: 30, TransferID: "t2", Counterparty: "ada"},
			domain.Deposit{AccountID: "ada", Amount: 30, TransferID: "t2", Counterparty: "carol", Refund: true},
			domain.FailTransfer{TransferID: "t2", Reason: "destination account: " + domain.ErrAccountNotFound.Error()},
		)
}
