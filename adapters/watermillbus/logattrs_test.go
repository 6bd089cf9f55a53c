package watermillbus_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// flakyPublisher fails the calls whose numbers (from 1) are in fail.
type flakyPublisher struct {
	mu    sync.Mutex
	calls int
	fail  map[int]bool
}

func (p *flakyPublisher) Publish(string, ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.fail[p.calls] {
		return errors.New("broker unreachable")
	}
	return nil
}

func (p *flakyPublisher) Close() error { return nil }

type memCheckpoints struct {
	mu  sync.Mutex
	pos map[string]eventstore.Position
}

func (c *memCheckpoints) Load(_ context.Context, name string) (eventstore.Position, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos[name], nil
}

func (c *memCheckpoints) Save(_ context.Context, name string, pos eventstore.Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pos[name] = pos
	return nil
}

// A failed publish is logged with the first event of the batch, where
// forwarding resumes; the backoff starts short again once a publish got
// through.
func TestRelayLogsTheEventItStoppedAt(t *testing.T) {
	store := memstore.New(nil)
	var logs testenv.LogBuffer
	pub := &flakyPublisher{fail: map[int]bool{1: true, 2: true, 4: true}}
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
		Store: store, Publisher: pub, Topic: "events", Checkpoints: &memCheckpoints{pos: map[string]eventstore.Position{}},
		Poll: projection.LogOptions{MaxPoll: 5 * time.Millisecond}, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); relay.Run(ctx) }() //nolint:errcheck
	defer func() { cancel(); <-done }()

	appendOne := func(corr string) eventstore.Record {
		t.Helper()
		ev := eventstore.Event{ID: eventstore.NewEventID(), Type: "Added", Data: []byte(`{}`),
			Metadata: eventstore.Metadata{CorrelationID: corr, CausationID: "cause-" + corr}}
		res, err := store.Append(t.Context(), "s-"+corr, eventstore.Any, []eventstore.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, pos := relay.Active(); !pos.Before(res.Position) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the relay did not forward %s", res.Position)
			}
			time.Sleep(time.Millisecond)
		}
		return eventstore.Record{ID: ev.ID, StreamID: "s-" + corr, Version: res.StreamVersion, Position: res.Position}
	}
	first := appendOne("flow-1")  // publish calls 1 and 2 fail, 3 succeeds
	second := appendOne("flow-2") // call 4 fails, 5 succeeds

	type line struct {
		corr, cause, event, stream, position string
		in                                   time.Duration
	}
	var got []line
	for _, l := range logs.Lines(t) {
		if l["msg"] != "relay interrupted; retrying" {
			continue
		}
		str := func(k string) string { s, _ := l[k].(string); return s }
		in, _ := l["in"].(float64)
		got = append(got, line{str("correlation_id"), str("causation_id"), str("event_id"), str("stream_id"), str("position"), time.Duration(in)})
	}
	want := func(rec eventstore.Record, corr string, in time.Duration) line {
		return line{corr, "cause-" + corr, rec.ID, rec.StreamID, rec.Position.String(), in}
	}
	wantLines := []line{want(first, "flow-1", 50*time.Millisecond), want(first, "flow-1", 100*time.Millisecond), want(second, "flow-2", 50*time.Millisecond)}
	if len(got) != len(wantLines) {
		t.Fatalf("got %d retry lines %+v, want %d", len(got), got, len(wantLines))
	}
	for i := range got {
		if got[i] != wantLines[i] {
			t.Errorf("retry line %d = %+v, want %+v", i+1, got[i], wantLines[i])
		}
	}
}

// The command processor's line about a dropped command carries the
// command's correlation ID, or its own ID when it came without one.
func TestDroppedCommandLogCarriesCorrelationID(t *testing.T) {
	var logs testenv.LogBuffer
	env := startCommands(t, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err := env.bus.Send(command.WithCorrelationID(t.Context(), "flow-9"), Credit{Account: "a", Amount: -1}); err != nil {
		t.Fatal(err)
	}
	if err := env.bus.Send(t.Context(), Credit{Account: "b", Amount: -2}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var dropped []map[string]any
	for len(dropped) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d dropped-command lines, want 2", len(dropped))
		}
		time.Sleep(5 * time.Millisecond)
		dropped = dropped[:0]
		for _, l := range logs.Lines(t) {
			if l["msg"] == "watermillbus: command failed and was dropped" {
				dropped = append(dropped, l)
			}
		}
	}
	corrs := map[string]bool{}
	for _, l := range dropped {
		corr, _ := l["correlation_id"].(string)
		id, _ := l["command_id"].(string)
		if corr == "" || id == "" || (corr != "flow-9" && corr != id) {
			t.Errorf("line %v: want correlation_id flow-9, or the command ID for the command sent without one", l)
		}
		corrs[corr] = true
	}
	if !corrs["flow-9"] {
		t.Errorf("no dropped-command line with correlation_id flow-9: %v", dropped)
	}
}
