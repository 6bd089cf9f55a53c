package command_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// A counter: the smallest decider.
type (
	Incremented struct{ By int }
	Increment   struct{ By int }
)

var errTooBig = errors.New("counter: increment too big")

var counter = command.Decider[int, Increment, Incremented]{
	Evolve: func(n int, e Incremented) int { return n + e.By },
	Decide: func(c Increment, n int) ([]Incremented, error) {
		if c.By > 10 {
			return nil, errTooBig
		}
		return []Incremented{{By: c.By}}, nil
	},
}

func Example() {
	ctx := context.Background()
	reg := command.NewRegistry(nil)
	if err := command.Register[Incremented](reg, "Incremented", nil); err != nil {
		log.Fatal(err)
	}
	h, err := command.NewHandler(memstore.New(nil), reg, counter, nil)
	if err != nil {
		log.Fatal(err)
	}

	res, err := h.Handle(ctx, "counter-1", Increment{By: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", res.StreamVersion, "token", res.Position)

	_, err = h.Handle(ctx, "counter-1", Increment{By: 50})
	fmt.Println(errors.Is(err, errTooBig))

	n, version, err := h.Load(ctx, "counter-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state", n, "at version", version)
	// Output:
	// version 1 token 1-1
	// true
	// state 2 at version 1
}

// An event type whose shape changed twice. Old events stay as they were
// stored and are upgraded on read.
type Renamed struct {
	First, Last string
	Title       string // added in version 3
}

func ExampleRegister_upcasting() {
	type v1 struct{ Name string }
	type v2 struct{ First, Last string }
	reg := command.NewRegistry(nil)
	err := command.Register[Renamed](reg, "Renamed", &command.EventOptions{
		Version: 3,
		Upcasters: map[int]command.UpcastFunc{
			1: command.Upcast(command.JSONCodec{}, func(old v1) (v2, error) {
				first, last, _ := strings.Cut(old.Name, " ")
				return v2{First: first, Last: last}, nil
			}),
			2: command.Upcast(command.JSONCodec{}, func(old v2) (Renamed, error) {
				return Renamed{First: old.First, Last: old.Last, Title: "none"}, nil
			}),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	stored := eventstore.Record{
		Type:     "Renamed",
		Data:     []byte(`{"Name":"Ada Lovelace"}`),
		Metadata: eventstore.Metadata{Extra: map[string]string{command.SchemaKey: "1"}},
	}
	v, err := reg.Decode(stored)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", v)
	// Output: {First:Ada Last:Lovelace Title:none}
}

func ExampleDispatcher() {
	ctx := context.Background()
	reg := command.NewRegistry(nil)
	if err := command.Register[Incremented](reg, "Incremented", nil); err != nil {
		log.Fatal(err)
	}
	counters, err := command.NewHandler(memstore.New(nil), reg, counter, &command.Options{
		Middleware: []command.Middleware{command.Validate},
	})
	if err != nil {
		log.Fatal(err)
	}

	var d command.Dispatcher
	err = command.Route(&d, func(ctx context.Context, c Increment) (command.Result, error) {
		return counters.Handle(ctx, "counter-1", c)
	})
	if err != nil {
		log.Fatal(err)
	}

	// For example in an HTTP handler: the correlation ID comes from the
	// request and ends up on every event.
	ctx = command.WithCorrelationID(ctx, "request-42")
	res, err := d.Dispatch(ctx, Increment{By: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StreamVersion)
	_, err = d.Dispatch(ctx, "not a command")
	fmt.Println(errors.Is(err, command.ErrNoRoute))
	// Output:
	// 1
	// true
}

// Deposit once, even if the client sends the request twice.
func ExampleKeyed() {
	ctx := context.Background()
	h, err := command.NewHandler(memstore.New(nil), newRegistry(), account, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := h.Handle(ctx, "acc-1", Open{Owner: "ada"}); err != nil {
		log.Fatal(err)
	}
	if _, err := h.Handle(ctx, "acc-1", Deposit{Amount: 10}); err != nil {
		log.Fatal(err)
	}
	for range 2 {
		res, err := h.Handle(ctx, "acc-1", Withdraw{Amount: 7, Key: "request-5f1c"})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("version", res.StreamVersion, "replayed", res.Replayed)
	}
	// Output:
	// version 3 replayed false
	// version 3 replayed true
}

// A refused withdrawal stays refused under its key, even after a deposit
// that would let it through, and still matches the domain's error.
func ExampleOptions_refusals() {
	ctx := context.Background()
	opts := &command.Options{Refusals: map[string]error{"insufficient_funds": ErrInsufficientFunds}}
	h, err := command.NewHandler(memstore.New(nil), newRegistry(), account, opts)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := h.Handle(ctx, "acc-1", Open{Owner: "ada"}); err != nil {
		log.Fatal(err)
	}
	withdraw := Withdraw{Amount: 7, Key: "request-9a0e"}
	_, err = h.Handle(ctx, "acc-1", withdraw)
	fmt.Println(err)
	if _, err := h.Handle(ctx, "acc-1", Deposit{Amount: 10}); err != nil {
		log.Fatal(err)
	}
	_, err = h.Handle(ctx, "acc-1", withdraw)
	var rej *command.RejectedError
	errors.As(err, &rej)
	fmt.Println(err, rej.Code, rej.Replayed, errors.Is(err, ErrInsufficientFunds))

	// The same key with another command is an error, not a replay.
	_, err = h.Handle(ctx, "acc-1", Withdraw{Amount: 1, Key: "request-9a0e"})
	fmt.Println(errors.Is(err, command.ErrKeyReused))
	// Output:
	// insufficient funds
	// insufficient funds insufficient_funds true true
	// true
}

func ExampleSnapshots() {
	ctx := context.Background()
	reg := command.NewRegistry(nil)
	if err := command.Register[Incremented](reg, "Incremented", nil); err != nil {
		log.Fatal(err)
	}
	snaps := memstore.NewSnapshots(nil)
	h, err := command.NewHandler(memstore.New(nil), reg, counter, &command.Options{
		Snapshots: &command.Snapshots{Store: snaps, SchemaVersion: 1, Policy: command.EveryN(3)},
	})
	if err != nil {
		log.Fatal(err)
	}
	for range 4 {
		if _, err := h.Handle(ctx, "counter-1", Increment{By: 1}); err != nil {
			log.Fatal(err)
		}
	}
	snap, err := snaps.Load(ctx, "counter-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("snapshot at version %d: %s\n", snap.Version, snap.State)
	// Output: snapshot at version 3: 3
}

// A Handler that keeps the states of the streams it handles appends
// without reading the stream first; another writer's append costs the
// next command a conflict and a read of what it missed.
func ExampleOptions_cachedStreams() {
	ctx := context.Background()
	reg := command.NewRegistry(nil)
	if err := command.Register[Incremented](reg, "Incremented", nil); err != nil {
		log.Fatal(err)
	}
	store := memstore.New(nil)
	h, err := command.NewHandler(store, reg, counter, &command.Options{CachedStreams: 10_000})
	if err != nil {
		log.Fatal(err)
	}
	other, err := command.NewHandler(store, reg, counter, nil) // another process, say
	if err != nil {
		log.Fatal(err)
	}
	for _, hh := range []*command.Handler[int, Increment, Incremented]{h, h, other, h} {
		if _, err := hh.Handle(ctx, "counter-1", Increment{By: 1}); err != nil {
			log.Fatal(err)
		}
	}
	n, version, err := h.Load(ctx, "counter-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state", n, "at version", version)
	// Output: state 4 at version 4
}
