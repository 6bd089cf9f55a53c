package command_test

import (
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
)

// The bank account domain used by the tests and examples.

type (
	Opened    struct{ Owner string }
	Deposited struct{ Amount int }
	Withdrawn struct{ Amount int }

	Open     struct{ Owner string }
	Deposit  struct{ Amount int }
	Withdraw struct {
		Amount int
		Key    string // idempotency key
	}
)

// AccountEvent is the family of account events.
type AccountEvent interface{ accountEvent() }

func (Opened) accountEvent()    {}
func (Deposited) accountEvent() {}
func (Withdrawn) accountEvent() {}

// AccountCommand is the family of account commands.
type AccountCommand interface{ accountCommand() }

func (Open) accountCommand()     {}
func (Deposit) accountCommand()  {}
func (Withdraw) accountCommand() {}

// IdempotencyKey makes Withdraw a command.Keyed.
func (w Withdraw) IdempotencyKey() string { return w.Key }

// Validate makes Deposit a command.Validator.
func (d Deposit) Validate() error {
	if d.Amount <= 0 {
		return fmt.Errorf("amount %d is not positive", d.Amount)
	}
	return nil
}

type Account struct {
	Open    bool
	Owner   string
	Balance int
}

var (
	ErrNotOpen           = errors.New("account is not open")
	ErrAlreadyOpen       = errors.New("account is already open")
	ErrInsufficientFunds = errors.New("insufficient funds")
)

var account = command.Decider[Account, AccountCommand, AccountEvent]{
	Evolve: func(s Account, e AccountEvent) Account {
		switch e := e.(type) {
		case Opened:
			s.Open, s.Owner = true, e.Owner
		case Deposited:
			s.Balance += e.Amount
		case Withdrawn:
			s.Balance -= e.Amount
		}
		return s
	},
	Decide: func(c AccountCommand, s Account) ([]AccountEvent, error) {
		switch c := c.(type) {
		case Open:
			if s.Open {
				return nil, ErrAlreadyOpen
			}
			return []AccountEvent{Opened{Owner: c.Owner}}, nil
		case Deposit:
			if !s.Open {
				return nil, ErrNotOpen
			}
			return []AccountEvent{Deposited{Amount: c.Amount}}, nil
		case Withdraw:
			if !s.Open {
				return nil, ErrNotOpen
			}
			if c.Amount > s.Balance {
				return nil, ErrInsufficientFunds
			}
			return []AccountEvent{Withdrawn{Amount: c.Amount}}, nil
		}
		return nil, fmt.Errorf("unknown command %T", c)
	},
}

func newRegistry() *command.Registry {
	reg := command.NewRegistry(nil)
	if err := errors.Join(
		command.Register[Opened](reg, "AccountOpened", nil),
		command.Register[Deposited](reg, "MoneyDeposited", nil),
		command.Register[Withdrawn](reg, "MoneyWithdrawn", nil),
	); err != nil {
		panic(err)
	}
	return reg
}

func newMemStore() *memstore.Store { return memstore.New(nil) }
