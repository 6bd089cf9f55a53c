package command_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
)

// TestLogsHoldNoPayload: the Logging middleware and the Handler's own
// records name commands by type and stream, never by their fields, so
// personal data a command carries does not reach the logs, whatever the
// outcome.
func TestLogsHoldNoPayload(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, keys := memstore.New(nil), memstore.NewKeys(nil)
	h, err := command.NewHandler(store, profileRegistry(t, keys), profiles, &command.Options{
		Logger:     logger,
		Middleware: []command.Middleware{command.Logging(logger)},
		Snapshots:  &command.Snapshots{Store: failingSnapshots{}, Policy: command.EveryN(1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := h.Handle(ctx, "customer-c-1", registerProfile{ID: "c-1", Name: "Ada Lovelace", Email: "ada@example.org", Country: "UK"}); err != nil {
		t.Fatal(err)
	}
	// A command that fails: its subject field is empty.
	if _, err := h.Handle(ctx, "customer-c-2", registerProfile{Name: "Grace Hopper", Email: "grace@example.org"}); err == nil {
		t.Fatal("Handle without a subject succeeded")
	}
	// A key store outage.
	hurt, err := command.NewHandler(store, profileRegistry(t, brokenKeys{}), profiles, &command.Options{
		Logger: logger, Middleware: []command.Middleware{command.Logging(logger)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hurt.Handle(ctx, "customer-c-3", registerProfile{ID: "c-3", Name: "Alan Turing", Email: "alan@example.org"}); err == nil {
		t.Fatal("Handle with a broken key store succeeded")
	}
	if !bytes.Contains(buf.Bytes(), []byte("command handled")) || !bytes.Contains(buf.Bytes(), []byte("command failed")) {
		t.Fatalf("logs lack the access records:\n%s", buf.Bytes())
	}
	assertNoPII(t, "log", buf.Bytes(), "Ada Lovelace", "ada@example.org", "Grace Hopper", "grace@example.org", "Alan Turing", "alan@example.org")
}

// brokenKeys fails every call.
type brokenKeys struct{ failingKeys }

func (brokenKeys) Key(context.Context, string) ([]byte, error) { return nil, errKeysDown }
