package commandtest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
)

type (
	TransferRequested struct {
		ID, From, To string
		Amount       int
	}
	Debit struct {
		Account string
		Amount  int
	}
	Credit struct {
		Account string
		Amount  int
	}
	FailTransfer struct{ ID, Reason string }
)

var errNoFunds = errors.New("insufficient funds")

func transferRegistry(t testing.TB) *command.Registry {
	reg := command.NewRegistry(nil)
	if err := command.Register[TransferRequested](reg, "TransferRequested", nil); err != nil {
		t.Fatal(err)
	}
	return reg
}

// transfers debits the source and credits the destination, or fails the
// transfer when the debit is refused.
func transfers(cfg command.ProcessConfig) (*command.Process, error) {
	cfg.Name = "transfers"
	p, err := command.NewProcess(cfg)
	if err != nil {
		return nil, err
	}
	command.OnEvent(p, func(ctx context.Context, s *command.Step, e TransferRequested) error {
		_, err := s.Send(ctx, Debit{e.From, e.Amount})
		if errors.Is(err, command.ErrRejected) {
			_, err = s.Send(ctx, FailTransfer{e.ID, err.Error()})
			return err
		}
		if err != nil {
			return err
		}
		_, err = s.Send(ctx, Credit{e.To, e.Amount})
		return err
	})
	return p, nil
}

func TestProcessScenario(t *testing.T) {
	commandtest.ForProcess(t, transferRegistry(t), transfers).
		Given("transfer-1", TransferRequested{ID: "1", From: "a", To: "b", Amount: 5}).
		ThenSent(Debit{"a", 5}, Credit{"b", 5})

	commandtest.ForProcess(t, transferRegistry(t), transfers).
		Given("transfer-1", TransferRequested{ID: "1", From: "a", To: "b", Amount: 5}).
		Given("transfer-2", TransferRequested{ID: "2", From: "c", To: "b", Amount: 7}).
		Refusing(func(cmd any) error {
			if d, ok := cmd.(Debit); ok && d.Account == "c" {
				return errNoFunds
			}
			return nil
		}).
		ThenSent(Debit{"a", 5}, Credit{"b", 5}, Debit{"c", 7}, FailTransfer{"2", "insufficient funds"})
}

// failT records the first failure and stops the scenario there.
type failT struct {
	testing.TB
	msg string
}

type stop struct{}

func (f *failT) Helper() {}
func (f *failT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(stop{})
}
func (f *failT) Errorf(format string, args ...any) {
	if f.msg == "" {
		f.msg = fmt.Sprintf(format, args...)
	}
}

func scenarioFailure(t *testing.T, run func(tb testing.TB)) string {
	tb := &failT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stop); !ok {
					panic(r)
				}
			}
		}()
		run(tb)
	}()
	return tb.msg
}

// A process whose commands depend on something other than the event and
// the outcomes sends other commands when it replays: the scenario says so.
func TestProcessScenarioCatchesNondeterminism(t *testing.T) {
	calls := 0
	wobbly := func(cfg command.ProcessConfig) (*command.Process, error) {
		cfg.Name = "wobbly"
		p, err := command.NewProcess(cfg)
		if err != nil {
			return nil, err
		}
		command.OnEvent(p, func(ctx context.Context, s *command.Step, e TransferRequested) error {
			calls++
			_, err := s.Send(ctx, Debit{e.From, e.Amount + calls})
			return err
		})
		return p, nil
	}
	msg := scenarioFailure(t, func(tb testing.TB) {
		commandtest.ForProcess(tb, transferRegistry(t), wobbly).
			Given("transfer-1", TransferRequested{ID: "1", From: "a", To: "b", Amount: 5}).
			ThenSent(Debit{"a", 6})
	})
	if !strings.Contains(msg, "was first used for") {
		t.Errorf("nondeterministic process reported as %q", msg)
	}
	msg = scenarioFailure(t, func(tb testing.TB) {
		commandtest.ForProcess(tb, transferRegistry(t), transfers).
			Given("transfer-1", TransferRequested{ID: "1", From: "a", To: "b", Amount: 5}).
			ThenSent(Debit{"a", 5})
	})
	if !strings.Contains(msg, "commands sent differ") {
		t.Errorf("wrong expectation reported as %q", msg)
	}
}
