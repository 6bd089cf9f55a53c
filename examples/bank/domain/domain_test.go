package domain_test

import (
	"errors"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"

	"github.com/eventfold/eventfold/examples/bank/domain"
)

func registry(t *testing.T) *command.Registry {
	t.Helper()
	reg, err := domain.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func opened(limit int64) domain.AccountOpened {
	return domain.AccountOpened{AccountID: "a1", Owner: "ada", OverdraftLimit: limit}
}

func TestOpenAccount(t *testing.T) {
	commandtest.For(t, domain.Accounts).WithRegistry(registry(t)).
		When(domain.OpenAccount{AccountID: "a1", Owner: "ada", OverdraftLimit: 100}).
		Then(opened(100))
}

func TestOpenAccountTwice(t *testing.T) {
	commandtest.For(t, domain.Accounts).
		Given(opened(0)).
		When(domain.OpenAccount{AccountID: "a1", Owner: "ada"}).
		ThenError(domain.ErrAccountExists)
}

func TestDeposit(t *testing.T) {
	commandtest.For(t, domain.Accounts).WithRegistry(registry(t)).
		Given(opened(0), domain.MoneyDeposited{AccountID: "a1", Amount: 50, Balance: 50}).
		When(domain.Deposit{AccountID: "a1", Amount: 25}).
		Then(domain.MoneyDeposited{AccountID: "a1", Amount: 25, Balance: 75})
}

func TestDepositToUnknownAccount(t *testing.T) {
	commandtest.For(t, domain.Accounts).
		When(domain.Deposit{AccountID: "a1", Amount: 25}).
		ThenError(domain.ErrAccountNotFound)
}

func TestWithdrawIntoOverdraft(t *testing.T) {
	commandtest.For(t, domain.Accounts).
		Given(opened(100), domain.MoneyDeposited{AccountID: "a1", Amount: 50, Balance: 50}).
		When(domain.Withdraw{AccountID: "a1", Amount: 150}).
		Then(domain.MoneyWithdrawn{AccountID: "a1", Amount: 150, Balance: -100})
}

func TestWithdrawBeyondOverdraft(t *testing.T) {
	commandtest.For(t, domain.Accounts).
		Given(opened(100), domain.MoneyDeposited{AccountID: "a1", Amount: 50, Balance: 50}).
		When(domain.Withdraw{AccountID: "a1", Amount: 151}).
		ThenError(domain.ErrInsufficientFunds)
}

func TestWithdrawKeepsTransferDetails(t *testing.T) {
	commandtest.For(t, domain.Accounts).
		Given(opened(0), domain.MoneyDeposited{AccountID: "a1", Amount: 50, Balance: 50}).
		When(domain.Withdraw{AccountID: "a1", Amount: 20, TransferID: "t1", Counterparty: "b2", Key: "k"}).
		ThenState(domain.Account{Open: true, Owner: "ada", Balance: 30})
}

func TestTransferLifecycle(t *testing.T) {
	req := domain.TransferRequested{TransferID: "t1", From: "a1", To: "b2", Amount: 10}
	commandtest.For(t, domain.Transfers).WithRegistry(registry(t)).
		When(domain.RequestTransfer{TransferID: "t1", From: "a1", To: "b2", Amount: 10}).
		Then(req)
	commandtest.For(t, domain.Transfers).
		Given(req).
		When(domain.RequestTransfer{TransferID: "t1", From: "a1", To: "b2", Amount: 10}).
		ThenError(domain.ErrTransferExists)
	commandtest.For(t, domain.Transfers).
		Given(req).
		When(domain.CompleteTransfer{TransferID: "t1"}).
		Then(domain.TransferCompleted{TransferID: "t1"})
	commandtest.For(t, domain.Transfers).
		Given(req, domain.TransferCompleted{TransferID: "t1"}).
		When(domain.FailTransfer{TransferID: "t1", Reason: "late"}).
		ThenError(domain.ErrTransferFinished)
	commandtest.For(t, domain.Transfers).
		When(domain.CompleteTransfer{TransferID: "t1"}).
		ThenError(domain.ErrTransferNotFound)
}

func TestValidation(t *testing.T) {
	bad := []command.Validator{
		domain.OpenAccount{AccountID: "", Owner: "ada"},
		domain.OpenAccount{AccountID: "a/1", Owner: "ada"},
		domain.OpenAccount{AccountID: "a1", Owner: ""},
		domain.OpenAccount{AccountID: "a1", Owner: "ada", OverdraftLimit: -1},
		domain.Deposit{AccountID: "a1", Amount: 0},
		domain.Deposit{AccountID: "a1", Amount: domain.MaxAmount + 1},
		domain.Withdraw{AccountID: "a1", Amount: -5},
		domain.RequestTransfer{TransferID: "t1", From: "a1", To: "a1", Amount: 5},
	}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("%#v: Validate() = nil, want an error", c)
		}
	}
	good := []command.Validator{
		domain.OpenAccount{AccountID: "a1", Owner: "Ada Lovelace", OverdraftLimit: 100},
		domain.Deposit{AccountID: "a1", Amount: 1},
		domain.RequestTransfer{TransferID: "t1", From: "a1", To: "b2", Amount: 5},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%#v: Validate() = %v", c, err)
		}
	}
}

// A keyed Withdraw refused for insufficient funds stays refused, as
// ErrInsufficientFunds, when the transfer process retries it after a
// deposit: the retry must not move money the first attempt did not.
func TestRefusedWithdrawStaysRefused(t *testing.T) {
	ctx := t.Context()
	store := memstore.New(nil)
	h, err := command.NewHandler(store, registry(t), domain.Accounts, &command.Options{Refusals: domain.Refusals()})
	if err != nil {
		t.Fatal(err)
	}
	stream := domain.AccountStream("a1")
	withdraw := domain.Withdraw{AccountID: "a1", Amount: 50, TransferID: "t1", Counterparty: "a2", Key: "transfer-t1-debit"}
	if _, err := h.Handle(ctx, stream, domain.OpenAccount{AccountID: "a1", Owner: "ada"}); err != nil {
		t.Fatal(err)
	}
	_, first := h.Handle(ctx, stream, withdraw)
	if !errors.Is(first, domain.ErrInsufficientFunds) {
		t.Fatalf("Withdraw = %v, want ErrInsufficientFunds", first)
	}
	if _, err := h.Handle(ctx, stream, domain.Deposit{AccountID: "a1", Amount: 100}); err != nil {
		t.Fatal(err)
	}
	_, again := h.Handle(ctx, stream, withdraw)
	var rej *command.RejectedError
	if !errors.Is(again, domain.ErrInsufficientFunds) || !errors.As(again, &rej) || !rej.Replayed || again.Error() != first.Error() {
		t.Errorf("retried Withdraw = %v, want the first refusal %q, replayed", again, first)
	}
	if a, _, err := h.Load(ctx, stream); err != nil || a.Balance != 100 {
		t.Errorf("balance %d (%v), want 100: the retry moved money", a.Balance, err)
	}
}
