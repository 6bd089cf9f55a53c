package commandtest_test

import (
	"errors"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
)

type (
	Opened    struct{ Owner string }
	Deposited struct{ Amount int }
	Open      struct{ Owner string }
	Deposit   struct{ Amount int }
)

var errClosed = errors.New("account is not open")

type account struct {
	open    bool
	balance int
}

var decider = command.Decider[account, any, any]{
	Evolve: func(s account, e any) account {
		switch e := e.(type) {
		case Opened:
			s.open = true
		case Deposited:
			s.balance += e.Amount
		}
		return s
	},
	Decide: func(c any, s account) ([]any, error) {
		switch c := c.(type) {
		case Open:
			return []any{Opened{Owner: c.Owner}}, nil
		case Deposit:
			if !s.open {
				return nil, errClosed
			}
			return []any{Deposited{Amount: c.Amount}}, nil
		}
		return nil, nil
	},
}

func TestAccount(t *testing.T) {
	commandtest.For(t, decider).
		Given(Opened{Owner: "ada"}).
		When(Deposit{Amount: 10}).
		Then(Deposited{Amount: 10})

	commandtest.For(t, decider).
		When(Deposit{Amount: 10}).
		ThenError(errClosed)
}
