package command_test

import (
	"errors"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

func TestForget(t *testing.T) {
	ctx := t.Context()
	store, keys, snaps := memstore.New(nil), memstore.NewKeys(nil), memstore.NewSnapshots(nil)
	reg := profileRegistry(t, keys)
	h, err := command.NewHandler(store, reg, profiles, &command.Options{
		Snapshots: &command.Snapshots{Store: snaps, Policy: command.EveryN(1)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c-1", "c-2"} {
		if _, err := h.Handle(ctx, "customer-"+id, registerProfile{ID: id, Name: "Ada Lovelace", Email: "ada@example.org", Country: "UK"}); err != nil {
			t.Fatal(err)
		}
	}

	// Bad input deletes nothing and appends nothing.
	if _, err := command.Forget(ctx, keys, store, "", nil); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("Forget(\"\") = %v, want ErrInvalidInput", err)
	}
	if _, err := command.Forget(ctx, keys, store, "c-1", &command.ForgetOptions{Stream: "bad\x00stream"}); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("Forget to a bad stream = %v, want ErrInvalidInput", err)
	}
	if _, ok, _ := keys.Lookup(ctx, "c-1"); !ok {
		t.Fatal("a rejected Forget deleted the key")
	}

	// By default the event goes to ForgottenStream.
	pos, err := command.Forget(ctx, keys, store, "c-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := readStream(t, store, command.ForgottenStream)
	if len(recs) != 1 || recs[0].Type != command.SubjectForgottenType || string(recs[0].Data) != `{"subject":"c-1"}` || recs[0].Position != pos {
		t.Errorf("%s = %+v, want one %s event naming c-1 at %v", command.ForgottenStream, recs, command.SubjectForgottenType, pos)
	}
	if _, ok, _ := keys.Lookup(ctx, "c-1"); ok {
		t.Error("Forget left the key")
	}

	// Into the subject's own stream: its Handler skips the event, loads the
	// state without the personal data, and goes on handling commands.
	if _, err := command.Forget(ctx, keys, store, "c-2", &command.ForgetOptions{Stream: "customer-c-2"}); err != nil {
		t.Fatal(err)
	}
	if s, v, err := h.Load(ctx, "customer-c-2"); err != nil || v != 2 || s.Name != "" || s.Country != "UK" {
		t.Errorf("Load after Forget into the stream = %+v at %d, %v; want no name at version 2", s, v, err)
	}
	if _, err := h.Handle(ctx, "customer-c-2", moveProfile{Country: "FR"}); err != nil {
		t.Errorf("Handle after Forget into the stream = %v", err)
	}
	// Forgetting again is harmless.
	if _, err := command.Forget(ctx, keys, store, "c-2", nil); err != nil {
		t.Errorf("Forget again = %v", err)
	}
}
