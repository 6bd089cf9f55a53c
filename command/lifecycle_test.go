package command_test

import (
	"errors"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// A snapshot taken before a stream was soft-deleted does not carry into
// the recreated stream: the recreated account starts from nothing.
func TestSnapshotOfADeletedStreamIsNotReused(t *testing.T) {
	store, snaps := memstore.New(nil), memstore.NewSnapshots(nil)
	atTwo := func(_ string, version, _ int64) bool { return version == 2 }
	h := newHandler(t, store, &command.Options{Snapshots: &command.Snapshots{Store: snaps, Policy: atTwo}})
	handle(t, h, "acc-1", Open{Owner: "ada"})
	handle(t, h, "acc-1", Deposit{Amount: 5})
	if loadSnapshot(t, snaps, "acc-1").Version != 2 {
		t.Fatal("no snapshot at version 2")
	}
	if _, err := store.DeleteStream(t.Context(), "acc-1", eventstore.Exact(2), eventstore.SoftDelete); err != nil {
		t.Fatal(err)
	}
	handle(t, h, "acc-1", Open{Owner: "bob"})
	handle(t, h, "acc-1", Deposit{Amount: 1})
	if _, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 6}); !errors.Is(err, ErrInsufficientFunds) {
		t.Errorf("withdrawing 6 from the recreated account holding 1 = %v, want ErrInsufficientFunds", err)
	}
}
