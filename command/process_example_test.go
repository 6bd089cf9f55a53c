package command_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// ExampleProcess runs a process manager that reacts to a request to move
// money by withdrawing from one account and depositing to another. A
// request from an account without the money is refused at the first step,
// and stays refused when the process handles the request again (here, a
// second process without a checkpoint, as after losing it): the key of each
// command returns its first outcome.
func ExampleProcess() {
	ctx := context.Background()
	store := memstore.New(nil) // in production: pgstore
	reg := newRegistry()
	if err := command.Register[MoveRequested](reg, "MoveRequested", nil); err != nil {
		log.Fatal(err)
	}
	accounts, err := command.NewHandler(store, reg, account, nil)
	if err != nil {
		log.Fatal(err)
	}
	d := new(command.Dispatcher)
	if err := errors.Join(
		command.Route(d, func(ctx context.Context, c moveStep) (command.Result, error) {
			return accounts.Handle(ctx, c.account, c.cmd)
		}),
	); err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"acct-a", "acct-b"} {
		if _, err := accounts.Handle(ctx, id, Open{Owner: id}); err != nil {
			log.Fatal(err)
		}
	}
	ev, err := reg.Encode(MoveRequested{From: "acct-a", To: "acct-b", Amount: 10})
	if err != nil {
		log.Fatal(err)
	}
	req, err := store.Append(ctx, "move-1", eventstore.NoStream, []eventstore.Event{ev})
	if err != nil {
		log.Fatal(err)
	}

	run := func() {
		p, err := command.NewProcess(command.ProcessConfig{
			Name: "mover", Store: store, Registry: reg, Commands: d,
			Checkpoints: memstore.NewCheckpoints(), // in production: pgstore.NewCheckpoints
		})
		if err != nil {
			log.Fatal(err)
		}
		command.OnEvent(p, func(ctx context.Context, s *command.Step, e MoveRequested) error {
			_, err := s.Send(ctx, moveStep{e.From, Withdraw{Amount: e.Amount}})
			if errors.Is(err, command.ErrRejected) {
				fmt.Println("move refused:", err)
				return nil
			}
			if err != nil {
				return err
			}
			_, err = s.Send(ctx, moveStep{e.To, Deposit{Amount: e.Amount}})
			return err
		})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- p.Run(runCtx) }()
		for p.Status().Position.Before(req.Position) {
			time.Sleep(time.Millisecond)
		}
		stop()
		if err := <-done; err != nil {
			log.Fatal(err)
		}
	}
	run()
	if _, err := accounts.Handle(ctx, "acct-a", Deposit{Amount: 100}); err != nil {
		log.Fatal(err)
	}
	run() // the same request handled again, after acct-a was funded
	a, _, _ := accounts.Load(ctx, "acct-a")
	b, _, _ := accounts.Load(ctx, "acct-b")
	fmt.Println("balances:", a.Balance, b.Balance)
	// Output:
	// move refused: insufficient funds
	// move refused: insufficient funds
	// balances: 100 0
}
