package projectionops_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// TestControlFromAnotherProcess resumes a faulted runner only through the
// read-model store, as projections retry|skip do from another process.
func TestControlFromAnotherProcess(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	var broken atomic.Bool
	broken.Store(true)
	p := balances("1")
	p.On("Bad", func(context.Context, *projection.Tx, eventstore.Record) error {
		if broken.Load() {
			return errors.New("handler bug")
		}
		return nil
	})
	if _, err := es.Append(t.Context(), "a", eventstore.NoStream, []eventstore.Event{
		{Type: "Opened", Data: []byte(`{"owner":"x"}`)}, {Type: "Bad", Data: []byte(`{}`)}, {Type: "Bad", Data: []byte(`{}`)},
		{Type: "Deposited", Data: []byte(`{"amount":7}`)}}); err != nil {
		t.Fatal(err)
	}
	token := lastPosition(t, es)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req := projectionops.ControlRequest{Version: "1", Partition: 0, Action: projectionops.ActionSkip}
	if _, err := projectionops.Control(ctx, rm, "balances", "", req); !errors.Is(err, projection.ErrNotFaulted) {
		t.Errorf("Control before any fault = %v, want ErrNotFaulted", err)
	}
	r, _ := startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm, MaxAttempts: 1})
	first := awaitFault(t, rm, eventstore.Position{})
	if first.EventID == "" || first.Type != "Bad" || first.StreamVersion != 2 || first.Err != "handler bug" {
		t.Fatalf("published fault = %+v", first)
	}
	if s := r.Status(); s.Fault == nil || s.Fault.Event.Position != first.Position {
		t.Errorf("Status().Fault = %+v; want the published event", s.Fault)
	}

	stale := req
	stale.Position = token // not the faulted event
	if _, err := projectionops.Control(ctx, rm, "balances", "", stale); !errors.Is(err, projectionops.ErrStaleRequest) {
		t.Errorf("Control naming another event = %v, want ErrStaleRequest", err)
	}
	req.Position = first.Position
	out, err := projectionops.Control(ctx, rm, "balances", "", req)
	if err != nil || !out.Done || out.Action != projectionops.ActionSkip {
		t.Fatalf("skip = %+v, %v", out, err)
	}
	// The second Bad event faults next: a retry after the fix applies it.
	second := awaitFault(t, rm, first.Position)
	if second.Position == first.Position {
		t.Fatalf("still faulted on the skipped event %s", first.Position)
	}
	broken.Store(false)
	if _, err := projectionops.Control(ctx, rm, "balances", "", projectionops.ControlRequest{Version: "1", Action: projectionops.ActionRetry, Position: second.Position}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", token)
	if fs, err := projectionops.Faults(ctx, rm, "balances", ""); err != nil || len(fs) != 0 {
		t.Errorf("Faults after the retry = %+v, %v; want none", fs, err)
	}
}

// awaitFault waits until one fault other than on the event at not is
// published.
func awaitFault(t *testing.T, rm readmodel.Reader, not eventstore.Position) projectionops.FaultReport {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fs, err := projectionops.Faults(t.Context(), rm, "balances", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 1 && fs[0].Position != not {
			return fs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fault published: %+v", fs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
