package command_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// A keyed command refused by the decider keeps its refusal: the same key
// after the state changed returns the same RejectedError and appends
// nothing, even from another handler (another process).
func TestKeyedRefusalIsRemembered(t *testing.T) {
	store := memstore.New(nil)
	opts := &command.Options{Refusals: map[string]error{"insufficient_funds": ErrInsufficientFunds, "not_open": ErrNotOpen}}
	h := newHandler(t, store, opts)
	handle(t, h, "acc-1", Open{Owner: "ada"})

	_, first := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 6, Key: "k-1"})
	if !errors.Is(first, ErrInsufficientFunds) || !errors.Is(first, command.ErrRejected) {
		t.Fatalf("first Handle = %v, want ErrInsufficientFunds", first)
	}
	var firstRej *command.RejectedError
	if !errors.As(first, &firstRej) || firstRej.Code != "insufficient_funds" || firstRej.Replayed {
		t.Errorf("first refusal = %#v, want code insufficient_funds, not replayed", firstRej)
	}
	handle(t, h, "acc-1", Deposit{Amount: 10}) // the withdrawal would succeed now

	for _, hh := range []*command.Handler[Account, AccountCommand, AccountEvent]{h, newHandler(t, store, opts)} {
		res, err := hh.Handle(t.Context(), "acc-1", Withdraw{Amount: 6, Key: "k-1"})
		var rej *command.RejectedError
		if !errors.As(err, &rej) || err.Error() != first.Error() {
			t.Fatalf("same key again = %+v, %v; want the first refusal %q", res, err, first)
		}
		if !rej.Replayed || rej.Code != "insufficient_funds" {
			t.Errorf("replayed refusal: Replayed %v, Code %q; want true, insufficient_funds", rej.Replayed, rej.Code)
		}
		if !errors.Is(err, command.ErrRejected) || !errors.Is(err, ErrInsufficientFunds) || errors.Is(err, ErrNotOpen) {
			t.Errorf("replayed refusal %v: matches ErrRejected %v, ErrInsufficientFunds %v, ErrNotOpen %v; want true, true, false",
				err, errors.Is(err, command.ErrRejected), errors.Is(err, ErrInsufficientFunds), errors.Is(err, ErrNotOpen))
		}
	}
	// A handler without the code still returns the refusal, by message.
	_, err := newHandler(t, store, nil).Handle(t.Context(), "acc-1", Withdraw{Amount: 6, Key: "k-1"})
	if !errors.Is(err, command.ErrRejected) || err.Error() != first.Error() || errors.Is(err, ErrInsufficientFunds) {
		t.Errorf("replay without Refusals = %v; want the message %q, matching ErrRejected only", err, first)
	}
	if s, v, _ := h.Load(t.Context(), "acc-1"); s.Balance != 10 || v != 2 {
		t.Errorf("after the replayed refusal: balance %d at version %d, want 10 at version 2", s.Balance, v)
	}
}

// A key already used by one command fails with ErrKeyReused when sent with
// a different command, whether the first one appended or was refused, and
// nothing is appended.
func TestKeyReusedForDifferentCommand(t *testing.T) {
	store := memstore.New(nil)
	h := newHandler(t, store, nil)
	handle(t, h, "acc-1", Open{Owner: "ada"})
	handle(t, h, "acc-1", Deposit{Amount: 10})

	handle(t, h, "acc-1", Withdraw{Amount: 6, Key: "appended"})
	if _, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 100, Key: "refused"}); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("Handle = %v, want ErrInsufficientFunds", err)
	}
	for _, key := range []string{"appended", "refused"} {
		for _, amount := range []int{1, 200} { // one the decider accepts, one it refuses
			res, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: amount, Key: key})
			if !errors.Is(err, command.ErrKeyReused) {
				t.Errorf("key %q with a different command (amount %d) = %+v, %v; want ErrKeyReused", key, amount, res, err)
				continue
			}
			if !strings.Contains(err.Error(), key) {
				t.Errorf("ErrKeyReused message %q does not name the key %q", err, key)
			}
		}
	}
	if s, v, _ := h.Load(t.Context(), "acc-1"); s.Balance != 4 || v != 3 {
		t.Errorf("after reused keys: balance %d at version %d, want 4 at version 3", s.Balance, v)
	}
}

// Looking up a key takes no append: no probe event is offered to the store.
func TestKeyLookupAppendsNoProbe(t *testing.T) {
	var mu sync.Mutex
	var appended []string
	store := eventstore.Instrument(memstore.New(nil), eventstore.Hooks{
		Append: func(ctx context.Context, _ string, events []eventstore.Event,
			next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
			mu.Lock()
			for _, e := range events {
				appended = append(appended, e.Type)
			}
			mu.Unlock()
			return next(ctx, events)
		},
	})
	h := newHandler(t, store, nil)
	handle(t, h, "acc-1", Open{Owner: "ada"})
	if _, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 6, Key: "k-1"}); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("Handle = %v, want ErrInsufficientFunds", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, typ := range appended {
		if typ != "AccountOpened" {
			t.Errorf("the store was asked to append a %q event", typ)
		}
	}
}

// A refusal whose error is not in Options.Refusals is recorded with its Go
// type name as its code.
func TestRefusalCodeDefaultsToGoType(t *testing.T) {
	h := newHandler(t, memstore.New(nil), nil)
	_, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 1, Key: "k"})
	var rej *command.RejectedError
	if !errors.As(err, &rej) || rej.Code != "*errors.errorString" {
		t.Fatalf("Handle = %#v, want a RejectedError with code *errors.errorString", err)
	}
	_, err = h.Handle(t.Context(), "acc-1", Withdraw{Amount: 1, Key: "k"})
	if !errors.As(err, &rej) || !rej.Replayed || rej.Code != "*errors.errorString" || err.Error() != ErrNotOpen.Error() {
		t.Errorf("replay = %#v, want the same refusal, replayed", err)
	}
}

func TestNewHandlerRejectsBadRefusals(t *testing.T) {
	_, err := command.NewHandler(memstore.New(nil), newRegistry(), account,
		&command.Options{Refusals: map[string]error{"": ErrNotOpen, "nil": nil}})
	if err == nil || !strings.Contains(err.Error(), `code ""`) || !strings.Contains(err.Error(), `Refusals["nil"] is nil`) {
		t.Errorf("NewHandler = %v, want errors naming the empty code and the nil error", err)
	}
}

func TestHashTellsCommandsApart(t *testing.T) {
	a, errA := command.Hash(Withdraw{Amount: 1, Key: "k"})
	b, errB := command.Hash(Withdraw{Amount: 2, Key: "k"})
	c, errC := command.Hash(Withdraw{Amount: 1, Key: "k"})
	d, errD := command.Hash(Deposit{Amount: 1})
	if err := errors.Join(errA, errB, errC, errD); err != nil {
		t.Fatal(err)
	}
	if a == b || a != c || a == d || len(a) != 64 {
		t.Errorf("hashes %s %s %s %s: want equal for equal commands only, 64 hex digits", a, b, c, d)
	}
	if _, err := command.Hash(func() {}); err == nil {
		t.Error("Hash of a func succeeded")
	}
}
