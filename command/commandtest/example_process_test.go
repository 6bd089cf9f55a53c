package commandtest_test

import (
	"testing"

	"github.com/eventfold/eventfold/command/commandtest"
)

// ExampleForProcess tests a process manager inside a test function: given
// a transfer request whose debit is refused, then the process debits and
// fails the transfer, and sends the same commands if it handles the event
// again.
func ExampleForProcess() {
	var t *testing.T // the test's own

	commandtest.ForProcess(t, transferRegistry(t), transfers).
		Given("transfer-2", TransferRequested{ID: "2", From: "c", To: "b", Amount: 7}).
		Refusing(func(cmd any) error {
			if _, ok := cmd.(Debit); ok {
				return errNoFunds
			}
			return nil
		}).
		ThenSent(Debit{"c", 7}, FailTransfer{"2", "insufficient funds"})
}
