package watermillbus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

type (
	Credit struct {
		Account string
		Amount  int
		Key     string
		// FailFirst makes the route fail its first call with an outage.
		FailFirst bool
	}
	Credited struct{ Amount int }
)

func (c Credit) IdempotencyKey() string { return c.Key }

var errNotPositive = errors.New("amount must be positive")

var balance = command.Decider[int, Credit, Credited]{
	Evolve: func(n int, e Credited) int { return n + e.Amount },
	Decide: func(c Credit, _ int) ([]Credited, error) {
		if c.Amount <= 0 {
			return nil, errNotPositive
		}
		return []Credited{{Amount: c.Amount}}, nil
	},
}

type commandEnv struct {
	store *memstore.Store
	d     *command.Dispatcher
	bus   *watermillbus.CommandBus
	// handled counts the commands handled, successfully or not.
	handled *atomic.Int64
}

// startCommands serves Credit commands over an in-memory pub/sub; logger,
// if not nil, receives the command processor's lines.
func startCommands(t *testing.T, logger *slog.Logger) commandEnv {
	t.Helper()
	store := memstore.New(nil)
	reg := command.NewRegistry(nil)
	if err := command.Register[Credited](reg, "Credited", nil); err != nil {
		t.Fatal(err)
	}
	h, err := command.NewHandler(store, reg, balance, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := new(command.Dispatcher)
	handled := new(atomic.Int64)
	if err := command.Route(d, func(ctx context.Context, c Credit) (command.Result, error) {
		n := handled.Add(1)
		if c.FailFirst && n == 1 { // an outage a redelivery gets past
			return command.Result{}, errors.New("store unavailable")
		}
		return h.Handle(ctx, "account-"+c.Account, c)
	}); err != nil {
		t.Fatal(err)
	}

	pubsub := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	// The default Ack: the decider's refusal is dropped, an outage is
	// redelivered.
	_, err = watermillbus.NewCommandProcessor(router, pubsub, d, &watermillbus.CommandProcessorOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := watermillbus.NewCommandBus(pubsub, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router.Run = %v", err)
		}
		pubsub.Close()
	})
	select {
	case <-router.Running():
	case err := <-done:
		t.Fatalf("router stopped: %v", err)
	}
	return commandEnv{store: store, d: d, bus: bus, handled: handled}
}

// waitForEvents reads stream until it has n events.
func waitForEvents(t *testing.T, store eventstore.Store, stream string, n int) []eventstore.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := store.ReadStream(t.Context(), stream, 1, eventstore.Forward, 0)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatal(err)
		}
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %q has %d events, want %d", stream, len(recs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCommandsOverWatermill(t *testing.T) {
	env := startCommands(t, nil)
	ctx := command.WithCorrelationID(t.Context(), "request-1")
	for _, amount := range []int{1, 2, 3} {
		if err := env.bus.Send(ctx, Credit{Account: "a", Amount: amount}); err != nil {
			t.Fatal(err)
		}
	}
	recs := waitForEvents(t, env.store, "account-a", 3)
	causes := map[string]bool{}
	for _, r := range recs {
		if r.Metadata.CorrelationID != "request-1" {
			t.Errorf("event %d correlation ID = %q, want request-1", r.Version, r.Metadata.CorrelationID)
		}
		causes[r.Metadata.CausationID] = true
	}
	if len(causes) != 3 || causes[""] {
		t.Errorf("causation IDs %v, want three distinct command IDs", causes)
	}

	// Without a correlation ID the command starts a flow of its own.
	if err := env.bus.Send(t.Context(), Credit{Account: "b", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	r := waitForEvents(t, env.store, "account-b", 1)[0]
	if r.Metadata.CorrelationID == "" || r.Metadata.CorrelationID != r.Metadata.CausationID {
		t.Errorf("metadata %+v, want correlation ID = causation ID = the message UUID", r.Metadata)
	}

	// The synchronous path runs the same handler.
	res, err := env.d.Dispatch(ctx, Credit{Account: "a", Amount: 4})
	if err != nil || res.StreamVersion != 4 {
		t.Errorf("Dispatch = %+v, %v; want version 4", res, err)
	}
}

func TestCommandsOverWatermillIdempotentAndAcked(t *testing.T) {
	env := startCommands(t, nil)
	ctx := t.Context()
	send := func(c Credit) {
		t.Helper()
		if err := env.bus.Send(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	send(Credit{Account: "a", Amount: 10, Key: "k-1"})
	send(Credit{Account: "a", Amount: 10, Key: "k-1"}) // a duplicate delivery
	send(Credit{Account: "a", Amount: -1})             // a domain error, acked by default
	send(Credit{Account: "a", Amount: 5, Key: "k-2"})
	deadline := time.Now().Add(10 * time.Second)
	for env.handled.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d commands handled, want 4", env.handled.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Let a wrongly redelivered refusal show up before counting.
	time.Sleep(50 * time.Millisecond)
	recs := waitForEvents(t, env.store, "account-a", 2)
	sum := 0
	for _, r := range recs {
		sum += map[string]int{`{"Amount":10}`: 10, `{"Amount":5}`: 5}[string(r.Data)]
	}
	if len(recs) != 2 || sum != 15 {
		t.Errorf("got %d events worth %d, want the two keyed credits (15) once each", len(recs), sum)
	}
	if n := env.handled.Load(); n != 4 {
		t.Errorf("%d commands handled, want 4: the failed one must not be redelivered", n)
	}
}

// An outage is not a refusal: by default the command is redelivered and
// succeeds on the next delivery.
func TestCommandsOverWatermillRedeliverOutages(t *testing.T) {
	env := startCommands(t, nil)
	if err := env.bus.Send(t.Context(), Credit{Account: "c", Amount: 7, FailFirst: true}); err != nil {
		t.Fatal(err)
	}
	recs := waitForEvents(t, env.store, "account-c", 1)
	if n := env.handled.Load(); n != 2 || len(recs) != 1 {
		t.Errorf("handled %d times with %d events, want 2 deliveries and 1 event", n, len(recs))
	}
}

func TestAckRefusals(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&command.RejectedError{Err: errNotPositive}, true},
		{&command.ValidationError{Command: "Credit", Err: errNotPositive}, true},
		{fmt.Errorf("append: %w", eventstore.ErrInvalidInput), true},
		{&command.RejectedError{Err: errNotPositive, Replayed: true}, true},
		{&eventstore.KeyReusedError{Key: "k"}, true},
		{&eventstore.ConcurrencyError{StreamID: "s"}, false},
		{errors.New("connection refused"), false},
	} {
		if got := watermillbus.AckRefusals(t.Context(), nil, c.err); got != c.want {
			t.Errorf("AckRefusals(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestNewCommandProcessorRejectsNil(t *testing.T) {
	if _, err := watermillbus.NewCommandProcessor(nil, nil, nil, nil); err == nil {
		t.Error("NewCommandProcessor(nil, nil, nil) = nil error")
	}
}
