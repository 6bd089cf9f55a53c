package command_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// MoveRequested asks the mover process to move money between accounts.
type MoveRequested struct {
	From, To string
	Amount   int
}

// moverWorld is an account domain with a process manager that moves money:
// on MoveRequested it withdraws from From and, if that succeeds, deposits
// to To.
type moverWorld struct {
	store    *memstore.Store
	reg      *command.Registry
	accounts *command.Handler[Account, AccountCommand, AccountEvent]
	sends    atomic.Int64
}

func newMoverWorld(t *testing.T) *moverWorld {
	t.Helper()
	w := &moverWorld{store: memstore.New(nil), reg: newRegistry()}
	if err := command.Register[MoveRequested](w.reg, "MoveRequested", nil); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.accounts, err = command.NewHandler(w.store, w.reg, account, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *moverWorld) Dispatch(ctx context.Context, cmd any) (command.Result, error) {
	w.sends.Add(1)
	switch c := cmd.(type) {
	case moveStep:
		return w.accounts.Handle(ctx, c.account, c.cmd)
	}
	return command.Result{}, command.ErrNoRoute
}

type moveStep struct {
	account string
	cmd     AccountCommand
}

func (w *moverWorld) process(t *testing.T, cps command.Checkpoints, locker command.Locker) *command.Process {
	t.Helper()
	p, err := command.NewProcess(command.ProcessConfig{
		Name: "mover", Store: w.store, Registry: w.reg, Commands: w, Checkpoints: cps, Locker: locker,
		PollInterval: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	command.OnEvent(p, func(ctx context.Context, s *command.Step, e MoveRequested) error {
		_, err := s.Send(ctx, moveStep{e.From, Withdraw{Amount: e.Amount}})
		if errors.Is(err, command.ErrRejected) {
			return nil // the move fails; nothing moved
		}
		if err != nil {
			return err
		}
		_, err = s.Send(ctx, moveStep{e.To, Deposit{Amount: e.Amount}})
		return err
	})
	return p
}

// runUntil runs p until it has handled the log up to pos.
func runUntil(t *testing.T, p *command.Process, pos eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for p.Status().Position.Before(pos) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("process stuck at %s before %s: %+v", p.Status().Position, pos, p.Status().Failing)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func (w *moverWorld) balance(t *testing.T, id string) int {
	t.Helper()
	s, _, err := w.accounts.Load(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s.Balance
}

func (w *moverWorld) request(t *testing.T, id string, e MoveRequested) eventstore.Position {
	t.Helper()
	ev, err := w.reg.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.store.Append(t.Context(), id, eventstore.NoStream, []eventstore.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	return res.Position
}

// A process that handles an event again (its position lost, as after a
// crash between a command and its checkpoint) re-reads each command's
// first outcome: a withdrawal refused the first time stays refused after
// the account was funded, so no money moves for a move that failed.
func TestProcessReplayKeepsFirstOutcomes(t *testing.T) {
	w := newMoverWorld(t)
	for _, id := range []string{"acct-a", "acct-b"} {
		if _, err := w.accounts.Handle(t.Context(), id, Open{Owner: id}); err != nil {
			t.Fatal(err)
		}
	}
	pos := w.request(t, "move-1", MoveRequested{From: "acct-a", To: "acct-b", Amount: 10})
	runUntil(t, w.process(t, memstore.NewCheckpoints(), nil), pos)
	if a, b := w.balance(t, "acct-a"), w.balance(t, "acct-b"); a != 0 || b != 0 {
		t.Fatalf("after the refused move: a=%d b=%d, want 0 0", a, b)
	}
	if _, err := w.accounts.Handle(t.Context(), "acct-a", Deposit{Amount: 100}); err != nil {
		t.Fatal(err)
	}
	// The same process, its position lost: it handles move-1 again.
	runUntil(t, w.process(t, memstore.NewCheckpoints(), nil), pos)
	if a, b := w.balance(t, "acct-a"), w.balance(t, "acct-b"); a != 100 || b != 0 {
		t.Errorf("after the replay: a=%d b=%d, want 100 0: the refused withdrawal was decided again", a, b)
	}
}

// A successful move replayed appends nothing more.
func TestProcessReplayAppendsNothing(t *testing.T) {
	w := newMoverWorld(t)
	for _, id := range []string{"acct-a", "acct-b"} {
		if _, err := w.accounts.Handle(t.Context(), id, Open{Owner: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.accounts.Handle(t.Context(), "acct-a", Deposit{Amount: 100}); err != nil {
		t.Fatal(err)
	}
	pos := w.request(t, "move-1", MoveRequested{From: "acct-a", To: "acct-b", Amount: 30})
	cps := memstore.NewCheckpoints()
	runUntil(t, w.process(t, cps, nil), pos)
	runUntil(t, w.process(t, memstore.NewCheckpoints(), nil), pos)
	if a, b := w.balance(t, "acct-a"), w.balance(t, "acct-b"); a != 70 || b != 30 {
		t.Errorf("a=%d b=%d, want 70 30", a, b)
	}
	if got, err := cps.Load(t.Context(), "process/mover"); err != nil || got.Before(pos) {
		t.Errorf("checkpoint = %s, %v; want at least %s", got, err, pos)
	}
}

// testLocker is an in-process Locker: one holder per name at a time.
type testLocker struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

func (l *testLocker) Lock(ctx context.Context, name string) (context.Context, func(), error) {
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[string]chan struct{}{}
		}
		ch, busy := l.held[name]
		if !busy {
			ch = make(chan struct{})
			l.held[name] = ch
			l.mu.Unlock()
			var once sync.Once
			return context.Background(), func() {
				once.Do(func() { l.mu.Lock(); delete(l.held, name); close(ch); l.mu.Unlock() })
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// Two replicas under one lease: only one is active, the other takes over
// when it stops, and every move is carried out once.
func TestProcessReplicasShareOneLease(t *testing.T) {
	w := newMoverWorld(t)
	for _, id := range []string{"acct-a", "acct-b"} {
		if _, err := w.accounts.Handle(t.Context(), id, Open{Owner: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.accounts.Handle(t.Context(), "acct-a", Deposit{Amount: 1000}); err != nil {
		t.Fatal(err)
	}
	cps, locker := memstore.NewCheckpoints(), &testLocker{}
	first, second := w.process(t, cps, locker), w.process(t, cps, locker)
	ctx1, stop1 := context.WithCancel(t.Context())
	defer stop1()
	ctx2, stop2 := context.WithCancel(t.Context())
	defer stop2()
	done1 := make(chan error, 1)
	go func() { done1 <- first.Run(ctx1) }()
	for !first.Status().Active {
		time.Sleep(time.Millisecond)
	}
	go second.Run(ctx2) //nolint:errcheck // ends with ctx2
	var last eventstore.Position
	for i := range 20 {
		last = w.request(t, "move-"+string(rune('a'+i)), MoveRequested{From: "acct-a", To: "acct-b", Amount: 1})
		if first.Status().Active && second.Status().Active {
			t.Fatal("both replicas active")
		}
		if i == 9 {
			stop1()
			<-done1
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for second.Status().Position.Before(last) {
		if time.Now().After(deadline) {
			t.Fatalf("second replica never caught up: %+v", second.Status())
		}
		time.Sleep(time.Millisecond)
	}
	if a, b := w.balance(t, "acct-a"), w.balance(t, "acct-b"); a != 980 || b != 20 {
		t.Errorf("a=%d b=%d, want 980 20", a, b)
	}
	if n := w.sends.Load(); n < 40 || n > 42 {
		t.Errorf("%d commands sent for 20 moves of 2 commands, want 40 (42 if one event was repeated at the hand-over)", n)
	}
}

// An event type a handler names must be registered: Run says which.
func TestProcessRefusesUnregisteredEvent(t *testing.T) {
	w := newMoverWorld(t)
	p := w.process(t, memstore.NewCheckpoints(), nil)
	type Unregistered struct{}
	command.OnEvent(p, func(context.Context, *command.Step, Unregistered) error { return nil })
	if err := p.Run(t.Context()); err == nil || !errors.Is(err, command.ErrUnknownEventType) {
		t.Errorf("Run = %v, want ErrUnknownEventType", err)
	}
}
