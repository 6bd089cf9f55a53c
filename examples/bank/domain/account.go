package domain

import (
	"errors"
	"fmt"
	"strings"

	"github.com/eventfold/eventfold/command"
)

// MaxAmount bounds every amount and overdraft limit, in cents, so that sums
// of a few of them can never overflow an int64.
const MaxAmount = 1_000_000_000_00

// Domain errors of accounts. The HTTP API maps them to status codes.
var (
	ErrAccountNotFound   = errors.New("account not found")
	ErrAccountExists     = errors.New("account already exists")
	ErrInsufficientFunds = errors.New("withdrawal would exceed the overdraft limit")
)

// AccountStream returns the stream ID of account id.
func AccountStream(id string) string { return "account-" + id }

// AccountIDOf returns the account whose stream is streamID, and false for
// the stream of anything else.
func AccountIDOf(streamID string) (string, bool) {
	return strings.CutPrefix(streamID, "account-")
}

// AccountCommand is implemented by the commands of an account.
type AccountCommand interface{ accountCommand() }

// AccountEvent is implemented by the events of an account.
type AccountEvent interface{ accountEvent() }

// OpenAccount opens account AccountID for Owner. The balance may go down to
// -OverdraftLimit.
type OpenAccount struct {
	AccountID      string
	Owner          string
	OverdraftLimit int64
}

// Deposit adds Amount to an account. TransferID and Counterparty are set
// when the deposit is a step of a transfer; Refund marks the money going
// back to the source of a transfer that failed.
type Deposit struct {
	AccountID    string
	Amount       int64
	TransferID   string
	Counterparty string
	Refund       bool
	// Key is the idempotency key (see command.Keyed), from an
	// Idempotency-Key header or from the process manager.
	Key string
}

// Withdraw takes Amount from an account, as long as the balance stays at or
// above -OverdraftLimit. TransferID and Counterparty are set when the
// withdrawal is the first step of a transfer.
type Withdraw struct {
	AccountID    string
	Amount       int64
	TransferID   string
	Counterparty string
	Key          string
}

func (OpenAccount) accountCommand() {}
func (Deposit) accountCommand()     {}
func (Withdraw) accountCommand()    {}

// IdempotencyKey implements command.Keyed.
func (c Deposit) IdempotencyKey() string { return c.Key }

// IdempotencyKey implements command.Keyed.
func (c Withdraw) IdempotencyKey() string { return c.Key }

// Validate implements command.Validator.
func (c OpenAccount) Validate() error {
	return errors.Join(
		validID("account id", c.AccountID),
		validText("owner", c.Owner),
		validLimit("overdraft limit", c.OverdraftLimit),
	)
}

// Validate implements command.Validator.
func (c Deposit) Validate() error {
	return errors.Join(validID("account id", c.AccountID), validAmount(c.Amount))
}

// Validate implements command.Validator.
func (c Withdraw) Validate() error {
	return errors.Join(validID("account id", c.AccountID), validAmount(c.Amount))
}

// AccountOpened records a new account.
type AccountOpened struct {
	AccountID      string `json:"account_id"`
	Owner          string `json:"owner"`
	OverdraftLimit int64  `json:"overdraft_limit"`
}

// MoneyDeposited records a deposit and the balance after it.
type MoneyDeposited struct {
	AccountID    string `json:"account_id"`
	Amount       int64  `json:"amount"`
	Balance      int64  `json:"balance"`
	TransferID   string `json:"transfer_id,omitempty"`
	Counterparty string `json:"counterparty,omitempty"`
	Refund       bool   `json:"refund,omitempty"`
}

// MoneyWithdrawn records a withdrawal and the balance after it.
type MoneyWithdrawn struct {
	AccountID    string `json:"account_id"`
	Amount       int64  `json:"amount"`
	Balance      int64  `json:"balance"`
	TransferID   string `json:"transfer_id,omitempty"`
	Counterparty string `json:"counterparty,omitempty"`
}

func (AccountOpened) accountEvent()  {}
func (MoneyDeposited) accountEvent() {}
func (MoneyWithdrawn) accountEvent() {}

// Account is the state of an account, as far as its decisions need it.
type Account struct {
	Open           bool
	Owner          string
	Balance        int64
	OverdraftLimit int64
}

// Accounts is the decider of accounts.
var Accounts = command.Decider[Account, AccountCommand, AccountEvent]{
	Evolve: evolveAccount,
	Decide: decideAccount,
}

func evolveAccount(a Account, e AccountEvent) Account {
	switch e := e.(type) {
	case AccountOpened:
		a = Account{Open: true, Owner: e.Owner, OverdraftLimit: e.OverdraftLimit}
	case MoneyDeposited:
		a.Balance = e.Balance
	case MoneyWithdrawn:
		a.Balance = e.Balance
	}
	return a
}

func decideAccount(c AccountCommand, a Account) ([]AccountEvent, error) {
	switch c := c.(type) {
	case OpenAccount:
		if a.Open {
			return nil, ErrAccountExists
		}
		return []AccountEvent{AccountOpened{AccountID: c.AccountID, Owner: c.Owner, OverdraftLimit: c.OverdraftLimit}}, nil
	case Deposit:
		if !a.Open {
			return nil, ErrAccountNotFound
		}
		return []AccountEvent{MoneyDeposited{
			AccountID: c.AccountID, Amount: c.Amount, Balance: a.Balance + c.Amount,
			TransferID: c.TransferID, Counterparty: c.Counterparty, Refund: c.Refund,
		}}, nil
	case Withdraw:
		if !a.Open {
			return nil, ErrAccountNotFound
		}
		if a.Balance-c.Amount < -a.OverdraftLimit {
			return nil, fmt.Errorf("%w: balance %d, overdraft limit %d, amount %d",
				ErrInsufficientFunds, a.Balance, a.OverdraftLimit, c.Amount)
		}
		return []AccountEvent{MoneyWithdrawn{
			AccountID: c.AccountID, Amount: c.Amount, Balance: a.Balance - c.Amount,
			TransferID: c.TransferID, Counterparty: c.Counterparty,
		}}, nil
	}
	return nil, fmt.Errorf("domain: unknown account command %T", c)
}
