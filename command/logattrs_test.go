package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// conflictOnce fails the first append with a concurrency conflict.
type conflictOnce struct {
	eventstore.Store
	failed atomic.Bool
}

func (s *conflictOnce) Append(ctx context.Context, id string, ev eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	if s.failed.CompareAndSwap(false, true) {
		return eventstore.AppendResult{}, &eventstore.ConcurrencyError{StreamID: id, Expected: ev, Actual: 99}
	}
	return s.Store.Append(ctx, id, ev, events)
}

// jsonLines decodes one JSON log record per line.
func jsonLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(buf)
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// Every line the handler and the Logging middleware write about a command
// carries its correlation and command IDs: the conflict retry, the
// snapshot failures and the access log.
func TestLogLinesCarryCorrelationID(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ctx       func(context.Context) context.Context
		wantCorr  string // "" means: the command ID
		commandID string
	}{
		{"given", func(ctx context.Context) context.Context {
			return command.WithCommandID(command.WithCorrelationID(ctx, "flow-1"), "cmd-1")
		}, "flow-1", "cmd-1"},
		{"started by the command", func(ctx context.Context) context.Context { return ctx }, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			h := newHandler(t, &conflictOnce{Store: memstore.New(nil)}, &command.Options{
				Retry:      command.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Microsecond},
				Snapshots:  &command.Snapshots{Store: failingSnapshots{}, Policy: command.EveryN(1)},
				Logger:     logger,
				Middleware: []command.Middleware{command.Logging(logger)},
			})
			if _, err := h.Handle(tc.ctx(t.Context()), "acc-1", Open{Owner: "ada"}); err != nil {
				t.Fatal(err)
			}
			lines := jsonLines(t, &logs)
			var msgs []string
			for _, l := range lines {
				msgs = append(msgs, l["msg"].(string))
				corr, _ := l["correlation_id"].(string)
				id, _ := l["command_id"].(string)
				want, wantID := tc.wantCorr, tc.commandID
				if wantID == "" {
					wantID = id // a new ID, the same on every line
				}
				if want == "" {
					want = wantID
				}
				if id == "" || id != wantID || corr != want {
					t.Errorf("line %q: correlation_id %q, command_id %q; want %q, %q", l["msg"], corr, id, want, wantID)
				}
				tc.commandID = wantID
			}
			for _, m := range []string{"command: snapshot load failed, reading the whole stream",
				"command: concurrency conflict, retrying", "command: snapshot save failed", "command handled"} {
				if !slices.Contains(msgs, m) {
					t.Errorf("no line %q among %q", m, msgs)
				}
			}
		})
	}
}
