package projection_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// The Runner's lines about an event (a handler retry, the fault, the skip)
// carry the event's correlation and causation IDs and where it is.
func TestLogLinesCarryTheEventsCorrelationID(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	p := balances("1")
	p.On("Bad", func(context.Context, *projection.Tx, eventstore.Record) error { return errors.New("always fails") })
	md := eventstore.Metadata{CorrelationID: "flow-7", CausationID: "cmd-7"}
	if _, err := es.Append(t.Context(), "a", eventstore.NoStream, []eventstore.Event{
		{Type: "Opened", Data: []byte(`{"owner":"x"}`)}, {Type: "Bad", Data: []byte(`{}`), Metadata: md},
		{Type: "Deposited", Data: []byte(`{"amount":7}`)}}); err != nil {
		t.Fatal(err)
	}
	token := lastPosition(t, es)
	var logs testenv.LogBuffer
	r, stop := startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm,
		MaxAttempts: 2, Backoff: time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for r.Status().State != projection.StateFaulted {
		time.Sleep(time.Millisecond)
	}
	if err := r.Skip(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", token)
	stop()

	recs, err := es.ReadStream(t.Context(), "a", 1, eventstore.Forward, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := recs[1]
	var msgs []string
	for _, l := range logs.Lines(t) {
		if _, ok := l["event_id"]; !ok {
			continue // not about one event
		}
		msgs = append(msgs, l["msg"].(string))
		want := map[string]any{"correlation_id": "flow-7", "causation_id": "cmd-7", "event_id": bad.ID,
			"event_type": "Bad", "stream_id": "a", "version": 2.0, "position": bad.Position.String()}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("line %q: %s = %v, want %v", l["msg"], k, l[k], v)
			}
		}
	}
	for _, m := range []string{"handler failed; retrying", "projection faulted: an event keeps failing; retry or skip it", "operator skipped event"} {
		if !slices.Contains(msgs, m) {
			t.Errorf("no line %q about the event among %q", m, msgs)
		}
	}
}
