package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	tallies "github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/projection/projectiontest"
	"github.com/eventfold/eventfold/readmodel"
)

// echo keeps, per stream, the type and the raw data of its last event, so
// that what went in can be compared byte for byte with what comes out.
type echo struct {
	Type        string `json:"type"`
	Data        []byte `json:"data"`
	ContentType string `json:"content_type"`
	Count       int    `json:"count"`
}

var echoes = readmodel.Model[echo]{Indexes: []readmodel.Index[echo]{
	readmodel.By("type", func(e echo) readmodel.Value { return readmodel.String(e.Type) }),
}}

func foldEchoes(docs map[string]echo, rec eventstore.Record) error {
	e := docs[rec.StreamID]
	docs[rec.StreamID] = echo{Type: rec.Type, Data: rec.Data, ContentType: rec.ContentType, Count: e.Count + 1}
	return nil
}

// TestConsistencyChecker runs concurrent writers, keyed retries included,
// through PostgreSQL, a projection runner and Redis, and checks the result
// with projectiontest.
func TestConsistencyChecker(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); runProjector(ctx, e.schema, e.prefix, 16) }() //nolint:errcheck

	var mu sync.Mutex
	var acked []projectiontest.Ack
	var last eventstore.Position
	var writers sync.WaitGroup
	for w := range 6 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 25 {
				stream := fmt.Sprintf("c-%d", (w+i)%4)
				events := []eventstore.Event{{ID: eventstore.NewEventID(), Type: "Added", Data: []byte(fmt.Sprintf(`{"N":%d}`, i))}}
				var res eventstore.AppendResult
				var err error
				for {
					res, err = e.store.Append(ctx, stream, eventstore.Any, events)
					if !errors.Is(err, eventstore.ErrConcurrency) {
						break
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
				// A retry of the same append is acknowledged again and
				// stores nothing.
				if i%5 == 0 {
					again, err := e.store.Append(ctx, stream, eventstore.Any, events)
					if err != nil || again.Position != res.Position {
						t.Errorf("retry of an append: %+v, %v; first %+v", again, err, res)
					}
				}
				mu.Lock()
				acked = append(acked, projectiontest.AckOf(stream, res, events))
				if last.Before(res.Position) {
					last = res.Position
				}
				mu.Unlock()
			}
		}()
	}
	writers.Wait()
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	if err := projection.WaitFor(wctx, e.rm, "tallies", "", last); err != nil {
		t.Fatal(err)
	}
	log := projectiontest.CheckLog(t, e.store, acked)
	if len(log) != 6*25 {
		t.Errorf("the log holds %d events, want %d", len(log), 6*25)
	}
	projectiontest.CheckReadModel(t, e.store, e.rm, tallies.Name, "", tallies.Model, func(docs map[string]tally, rec eventstore.Record) error {
		var ev struct{ N int }
		if err := json.Unmarshal(rec.Data, &ev); err != nil {
			return err
		}
		x := docs[rec.StreamID]
		x.Count++
		x.Sum += ev.N
		docs[rec.StreamID] = x
		return nil
	})
}

// TestHostileValues pushes hostile stream IDs, types, payloads and tokens
// through PostgreSQL, a projection runner and Redis: each is stored and
// read back verbatim or rejected with ErrInvalidInput, and nothing stored
// before is harmed.
func TestHostileValues(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	var acked []projectiontest.Ack
	var last eventstore.Position
	appendOK := func(stream string, ev eventstore.Event) {
		t.Helper()
		ev.ID = eventstore.NewEventID()
		res, err := e.store.Append(ctx, stream, eventstore.Any, []eventstore.Event{ev})
		if err != nil {
			t.Errorf("Append(%q, type %q, %d bytes) = %v, want it stored", stream, ev.Type, len(ev.Data), err)
			return
		}
		acked = append(acked, projectiontest.AckOf(stream, res, []eventstore.Event{ev}))
		last = res.Position
	}
	rejected := func(stream string, ev eventstore.Event) {
		t.Helper()
		_, err := e.store.Append(ctx, stream, eventstore.Any, []eventstore.Event{ev})
		if !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("Append(%.40q, type %.40q, %d bytes) = %v, want an error matching ErrInvalidInput", stream, ev.Type, len(ev.Data), err)
		}
	}

	// Not among them: a document ID "$checkpoint/<n>", which the runner
	// reserves for itself (a handler writing one faults the projection:
	// projection.TestReservedDocumentIDsFault).

	// Something stored first, which nothing below may harm.
	appendOK("before", eventstore.Event{Type: "Plain", Data: []byte(`{"keep":true}`)})

	hostile := []string{
		`'; DROP TABLE events; --`, `" OR 1=1 --`, `\x00`, `$1`, `%s%n`, `a'b"c\d`,
		"账户-ü-🙂", "\u202eevil", "e\u0301", "\uFEFFbom",
		"*", "?", "[a-z]", `\*`, "{tag}", "}{", "{", "a:b:c", "%2A", "%", "d:x", "i:x", "$active",
		strings.Repeat("x", eventstore.MaxStreamIDBytes),
	}
	for _, s := range hostile {
		appendOK(s, eventstore.Event{Type: s[:min(len(s), eventstore.MaxTypeBytes)], Data: []byte(`{"s":` + mustJSON(s) + `}`)})
	}
	// Verbatim bytes under a non-JSON content type, and a large payload.
	appendOK("binary", eventstore.Event{Type: "Blob", ContentType: "application/octet-stream", Data: []byte("\xff\xfe\x00\x01 not utf-8")})
	appendOK("large", eventstore.Event{Type: "Big", Data: []byte(`"` + strings.Repeat("a", eventstore.DefaultMaxDataBytes-2) + `"`)})
	// JSON whose string holds invalid UTF-8 passes json.Valid: stored and
	// returned verbatim.
	appendOK("utf8-in-json", eventstore.Event{Type: "Blob", Data: []byte("{\"a\":\"\xff\"}")})
	appendOK("nested", eventstore.Event{Type: "Nested", Data: []byte(strings.Repeat("[", 500) + strings.Repeat("]", 500))})

	// Rejected with a clear error.
	rejected("", eventstore.Event{Type: "T", Data: []byte(`{}`)})
	rejected("bad\xffutf8", eventstore.Event{Type: "T", Data: []byte(`{}`)})
	rejected("nul\x00", eventstore.Event{Type: "T", Data: []byte(`{}`)})
	rejected(strings.Repeat("x", eventstore.MaxStreamIDBytes+1), eventstore.Event{Type: "T", Data: []byte(`{}`)})
	rejected("s", eventstore.Event{Type: "bad\xff", Data: []byte(`{}`)})
	rejected("s", eventstore.Event{Type: "T", Data: []byte(`"` + strings.Repeat("a", eventstore.DefaultMaxDataBytes) + `"`)})
	rejected("s", eventstore.Event{Type: "T", Data: []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))})
	rejected("s", eventstore.Event{Type: "T", Data: []byte(`{"a":`)})
	rejected("s", eventstore.Event{ID: "'; --", Type: "T", Data: []byte(`{}`)})
	for _, tok := range []string{"", "1", "1-", "-1", "a-b", "1-2-3", "18446744073709551616-0", "1-2; DROP", "１-２"} {
		if _, err := eventstore.ParsePosition(tok); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("ParsePosition(%q) = %v, want ErrInvalidInput", tok, err)
		}
	}

	// Through a projection into Redis and back.
	t.Run("read model", func(t *testing.T) {
		ep := projection.New("echo", "1", nil)
		for _, s := range append(hostile, "Plain", "Blob", "Big", "Nested") {
			ep.On(s[:min(len(s), eventstore.MaxTypeBytes)], func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
				old, _, err := projection.Load(ctx, tx, echoes, rec.StreamID)
				if err != nil {
					return err
				}
				return projection.Store(tx, echoes, rec.StreamID, echo{Type: rec.Type, Data: rec.Data, ContentType: rec.ContentType, Count: old.Count + 1})
			})
		}
		r, err := projection.NewRunner(projection.Config{Projection: ep, Source: projection.LogSource(e.store, nil), Store: e.rm})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); r.Run(rctx) }() //nolint:errcheck
		defer func() { cancel(); <-done }()
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		if err := projection.WaitFor(wctx, e.rm, "echo", "", last); err != nil {
			t.Fatalf("WaitFor: %v (runner %+v)", err, r.Status())
		}
		log := projectiontest.CheckLog(t, e.store, acked)
		for _, rec := range log {
			if rec.StreamID == "utf8-in-json" && string(rec.Data) != "{\"a\":\"\xff\"}" {
				t.Errorf("invalid UTF-8 in JSON came back as %q", rec.Data)
			}
		}
		projectiontest.CheckReadModel(t, e.store, e.rm, "echo", "", echoes, foldEchoes)
		// The first document is intact, and the read model's own
		// documents were not overwritten by streams named like them.
		ns, _ := projection.Active(ctx, e.rm, "echo", "")
		got, err := echoes.View(e.rm, ns).Get(ctx, "before")
		if err != nil || string(got.Data) != `{"keep":true}` {
			t.Errorf("document of the first stream: %+v, %v", got, err)
		}
		if _, err := projectionops.Checkpoints(ctx, e.rm, "echo", ""); err != nil {
			t.Errorf("checkpoints after a stream named $checkpoint/0: %v", err)
		}
	})
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
