package eventstore_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
)

func TestLogAttrsAreInlined(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	rec := eventstore.Record{ID: "e-1", StreamID: "order-7", Type: "Placed", Version: 3,
		Position: eventstore.Position{Commit: 10, Sequence: 2},
		Metadata: eventstore.Metadata{CorrelationID: "corr-1", CausationID: "cmd-1"}}
	log.Warn("handler failed", eventstore.LogAttrs(rec), "attempt", 2)

	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	delete(got, "time")
	want := map[string]any{"level": "WARN", "msg": "handler failed", "attempt": 2.0,
		"correlation_id": "corr-1", "causation_id": "cmd-1", "event_id": "e-1", "event_type": "Placed",
		"stream_id": "order-7", "version": 3.0, "position": rec.Position.String()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log line (-want +got):\n%s", diff)
	}
}
