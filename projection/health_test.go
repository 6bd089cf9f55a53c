package projection_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// TestHealthCheckOfRunners: a HealthCheck over real Runners is healthy
// while they apply the log, and names the one stopped on a failing event.
func TestHealthCheckOfRunners(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	good := projection.New("good", "1", nil)
	good.On("E", func(context.Context, *projection.Tx, eventstore.Record) error { return nil })
	bad := projection.New("bad", "1", nil)
	bad.On("E", func(_ context.Context, _ *projection.Tx, rec eventstore.Record) error {
		if rec.StreamID == "poison" {
			return errors.New("cannot apply")
		}
		return nil
	})
	rg, _ := startRunner(t, projection.Config{Projection: good, Source: projection.LogSource(es, nil), Store: rm})
	rb, _ := startRunner(t, projection.Config{Projection: bad, Source: projection.LogSource(es, nil), Store: rm, MaxAttempts: 2, Backoff: time.Millisecond})
	h, err := projection.NewHealthCheck(projection.RunnerStatuses(rg, rb), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := es.Append(t.Context(), "fine", eventstore.NoStream, []eventstore.Event{{Type: "E", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"good", "bad"} {
		if err := projection.WaitFor(t.Context(), rm, name, "", res.Position); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Check(); err != nil {
		t.Errorf("both caught up: Check = %v", err)
	}
	if _, err := es.Append(t.Context(), "poison", eventstore.NoStream, []eventstore.Event{{Type: "E", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := h.Check()
		if err != nil {
			if !errors.Is(err, projection.ErrUnhealthy) {
				t.Fatalf("Check = %v, want ErrUnhealthy", err)
			}
			r := h.Report()
			for _, p := range r.Partitions {
				if (p.Projection == "bad") != (p.Problem != "") {
					t.Errorf("partition %+v: only bad should have a problem", p)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the faulted runner still looks healthy")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
