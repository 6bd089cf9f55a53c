package projection_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// TestRebuildOfTheServedVersion rebuilds version 1 while its runner serves
// it: readers see the old read model, complete, until the switch; the
// runner then follows the new generation and keeps it up to date.
func TestRebuildOfTheServedVersion(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, streams := appendAccounts(t, es, 40, 20)
	src := projection.LogSource(es, nil)
	worker, _ := startRunner(t, projection.Config{Projection: balances("1"), Source: src, Store: rm, BatchSize: 20})
	waitFor(t, rm, "balances", token)

	// Readers never see a missing account or a balance going back.
	stopReads := make(chan struct{})
	var reads sync.WaitGroup
	var readErr atomic.Value
	reads.Add(1)
	go func() {
		defer reads.Done()
		last := map[string]int64{}
		for {
			select {
			case <-stopReads:
				return
			default:
			}
			ns, err := projection.Active(context.Background(), rm, "balances", "")
			if err != nil {
				readErr.Store(err)
				return
			}
			got := readAll(t, rm, ns, streams)
			if len(got) < len(streams) && ns.Version == "1" {
				continue // dropped after the switch, between the two reads
			}
			for _, id := range streams {
				if a, ok := got[id]; !ok || a.Balance < last[id] {
					readErr.Store(fmt.Errorf("version %s: %s = %+v (ok %v), last balance %d", ns.Version, id, a, ok, last[id]))
					return
				}
				last[id] = got[id].Balance
			}
		}
	}()

	rb, err := projection.NewRebuild(t.Context(), projection.Config{Projection: balances("1"), Source: src, Store: rm, BatchSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	if rb.From() != "1" || rb.Version() != "1~1" {
		t.Errorf("rebuild from %q to %q, want 1 to 1~1", rb.From(), rb.Version())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := rb.Run(ctx); err != nil {
		t.Fatal(err)
	}
	close(stopReads)
	reads.Wait()
	if err := readErr.Load(); err != nil {
		t.Fatal(err)
	}
	if ns, _ := projection.Active(t.Context(), rm, "balances", ""); ns.Version != "1~1" {
		t.Fatalf("active version %q after the rebuild, want 1~1", ns.Version)
	}
	// The worker follows: new events reach the rebuilt generation.
	res, err := es.Append(t.Context(), "acct-0", eventstore.Exact(21), []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":1000}`)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", res.Position)
	if v := worker.Status().Version; v != "1~1" {
		t.Errorf("worker runs version %q, want 1~1", v)
	}
	ns, _ := projection.Active(t.Context(), rm, "balances", "")
	if diff := cmp.Diff(fold(t, es), readAll(t, rm, ns, streams)); diff != "" {
		t.Errorf("rebuilt read model differs from the fold (-want +got):\n%s", diff)
	}
	if st, _ := rm.State(t.Context(), readmodel.Namespace{Projection: "balances", Version: "1"}); st.Initialized {
		t.Error("the replaced generation was not dropped")
	}

	// A second rebuild makes generation 2; one of another version is refused.
	if rb, err := projection.NewRebuild(t.Context(), projection.Config{Projection: balances("1"), Source: src, Store: rm}); err != nil || rb.Version() != "1~2" {
		t.Errorf("second rebuild: %v, %v; want generation 1~2", rb, err)
	}
	if _, err := projection.NewRebuild(t.Context(), projection.Config{Projection: balances("2"), Source: src, Store: rm}); err == nil {
		t.Error("rebuilt version 2 while version 1 is served")
	}
}

// TestAbandonedRebuildLeavesTheServedVersion cancels a rebuild: the served
// version goes on and the half-built generation is dropped.
func TestAbandonedRebuildLeavesTheServedVersion(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, _ := appendAccounts(t, es, 10, 5)
	src := projection.LogSource(es, nil)
	startRunner(t, projection.Config{Projection: balances("1"), Source: src, Store: rm})
	waitFor(t, rm, "balances", token)
	if _, err := projection.NewRebuild(t.Context(), projection.Config{Projection: balances("1"), Source: src, Store: memstore.NewReadModels(nil)}); !errors.Is(err, projection.ErrNotReady) {
		t.Errorf("rebuild of a projection never built = %v, want ErrNotReady", err)
	}
	blocked := balances("1")
	release := make(chan struct{})
	blocked.On("Deposited", func(ctx context.Context, _ *projection.Tx, _ eventstore.Record) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	defer close(release)
	rb, err := projection.NewRebuild(t.Context(), projection.Config{Projection: blocked, Source: src, Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := rb.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled rebuild = %v", err)
	}
	if ns, _ := projection.Active(t.Context(), rm, "balances", ""); ns.Version != "1" {
		t.Errorf("active version %q, want 1", ns.Version)
	}
	if st, _ := rm.State(t.Context(), readmodel.Namespace{Projection: "balances", Version: "1~1"}); st.Initialized {
		t.Error("the half-built generation was not dropped")
	}
	res, err := es.Append(t.Context(), "acct-0", eventstore.Exact(6), []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":1}`)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", res.Position)
}
