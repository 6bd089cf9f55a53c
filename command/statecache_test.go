package command_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// streamReads counts ReadStream calls.
type streamReads struct {
	eventstore.Store
	reads atomic.Int64
}

func (s *streamReads) ReadStream(ctx context.Context, streamID string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	s.reads.Add(1)
	return s.Store.ReadStream(ctx, streamID, from, dir, limit)
}

// With CachedStreams, commands after the first on a stream append on the
// state the Handler kept, without reading the stream.
func TestCachedStreamsSkipTheRead(t *testing.T) {
	store := &streamReads{Store: memstore.New(nil)}
	h := newHandler(t, store, &command.Options{CachedStreams: 10})
	handle(t, h, "acc-1", Open{Owner: "ada"})
	before := store.reads.Load()
	for range 3 {
		handle(t, h, "acc-1", Deposit{Amount: 10})
	}
	if n := store.reads.Load() - before; n != 0 {
		t.Errorf("3 commands on a cached stream read it %d times, want 0", n)
	}
	if s, v, err := h.Load(t.Context(), "acc-1"); err != nil || s.Balance != 30 || v != 4 {
		t.Errorf("Load = %+v, version %d, %v; want balance 30 at version 4", s, v, err)
	}
}

// A cached state that another writer made stale costs a conflict, not a
// wrong decision: the command reads what it missed and decides again; and
// a refusal decided on a cached state is decided again on the stream.
func TestCachedStreamsStaleState(t *testing.T) {
	store := memstore.New(nil)
	h := newHandler(t, store, &command.Options{CachedStreams: 10})
	other := newHandler(t, store, nil)
	handle(t, h, "acc-1", Open{Owner: "ada"})
	handle(t, h, "acc-1", Deposit{Amount: 10})

	// The other writer empties the account: the cached balance of 10 is stale.
	handle(t, other, "acc-1", Withdraw{Amount: 10})
	if _, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 10}); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("withdrawing on a stale cached balance = %v, want ErrInsufficientFunds", err)
	}
	// The other writer refills it: the cached balance of 0 is stale.
	handle(t, other, "acc-1", Deposit{Amount: 50})
	handle(t, h, "acc-1", Withdraw{Amount: 40})
	if s, v, err := h.Load(t.Context(), "acc-1"); err != nil || s.Balance != 10 || v != 5 {
		t.Errorf("Load = %+v, version %d, %v; want balance 10 at version 5", s, v, err)
	}
}

// The cache keeps at most CachedStreams streams, the least recently used
// going first.
func TestCachedStreamsBound(t *testing.T) {
	store := &streamReads{Store: memstore.New(nil)}
	h := newHandler(t, store, &command.Options{CachedStreams: 2})
	for _, s := range []string{"a", "b", "c"} {
		handle(t, h, s, Open{Owner: s})
	}
	before := store.reads.Load()
	handle(t, h, "c", Deposit{Amount: 1})
	handle(t, h, "b", Deposit{Amount: 1})
	if n := store.reads.Load() - before; n != 0 {
		t.Errorf("commands on the 2 most recent streams read %d times, want 0", n)
	}
	handle(t, h, "a", Deposit{Amount: 1})
	if n := store.reads.Load() - before; n != 1 {
		t.Errorf("a command on the evicted stream read %d times in all, want 1", n)
	}
}

func TestCachedStreamsRefusedWithShredding(t *testing.T) {
	reg := shreddingRegistry(t, memstore.NewKeys(nil))
	_, err := command.NewHandler(memstore.New(nil), reg, customers, &command.Options{CachedStreams: 10})
	if err == nil || !strings.Contains(err.Error(), "CachedStreams") {
		t.Errorf("NewHandler with CachedStreams and a shredding registry = %v, want an error naming CachedStreams", err)
	}
}

// resettable is a store that can be emptied, as by an operator who resets
// the event store (or a stream's events removed).
type resettable struct {
	eventstore.Store
}

// A kept state ahead of the stream (the store was reset under the Handler)
// is dropped at the conflict and the stream read again from its start.
func TestCachedStreamsAheadOfTheStore(t *testing.T) {
	store := &resettable{Store: memstore.New(nil)}
	h := newHandler(t, store, &command.Options{CachedStreams: 10, Retry: command.RetryPolicy{MaxAttempts: 3}})
	handle(t, h, "acc-1", Open{Owner: "ada"})
	handle(t, h, "acc-1", Deposit{Amount: 10})
	store.Store = memstore.New(nil)
	handle(t, h, "acc-1", Open{Owner: "bob"})
	if s, v, err := h.Load(t.Context(), "acc-1"); err != nil || s.Owner != "bob" || s.Balance != 0 || v != 1 {
		t.Errorf("Load = %+v, version %d, %v; want bob's new account at version 1", s, v, err)
	}

	// Reset again, and another writer opens the account anew: the kept
	// state (version 1, bob's) and then the conflict's version (1, below
	// the kept 2) must not be trusted.
	handle(t, h, "acc-1", Deposit{Amount: 10})
	store.Store = memstore.New(nil)
	handle(t, newHandler(t, store, nil), "acc-1", Open{Owner: "cy"})
	handle(t, h, "acc-1", Deposit{Amount: 5})
	if s, v, err := h.Load(t.Context(), "acc-1"); err != nil || s.Owner != "cy" || s.Balance != 5 || v != 2 {
		t.Errorf("Load = %+v, version %d, %v; want cy's account with 5 at version 2", s, v, err)
	}
}
