package cli

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// memLeaser grants leases within the process.
type memLeaser struct {
	mu   sync.Mutex
	held map[string]bool
}

func (l *memLeaser) TryLock(ctx context.Context, name string) (context.Context, func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] {
		return nil, nil, false, nil
	}
	if l.held == nil {
		l.held = map[string]bool{}
	}
	l.held[name] = true
	held, cancel := context.WithCancel(ctx)
	var once sync.Once
	return held, func() {
		once.Do(func() {
			cancel()
			l.mu.Lock()
			delete(l.held, name)
			l.mu.Unlock()
		})
	}, true, nil
}

// A projection whose newer version takes over retires in the worker, which
// goes on running the others instead of failing.
func TestWorkerKeepsRunningWhenAProjectionRetires(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	if _, err := es.Append(t.Context(), "order-1", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	version := func(name, v string) *projection.Projection {
		p := projection.New(name, v, nil)
		p.On("OrderPlaced", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
			tx.Put(rec.StreamID, rec.Data)
			return nil
		})
		return p
	}
	var logs syncBuffer
	deps := Deps{ReadModels: rm, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	var configs []projection.Config
	for _, name := range []string{"orders", "totals"} {
		configs = append(configs, projection.Config{Projection: version(name, "1"), Source: projection.LogSource(es, nil), Store: rm, Logger: deps.Logger})
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, deps, &memLeaser{}, configs, nil, "") }()

	v2, err := projection.NewRunner(projection.Config{Projection: version("orders", "2"), Source: projection.LogSource(es, nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	v2ctx, stopV2 := context.WithCancel(t.Context())
	defer stopV2()
	go v2.Run(v2ctx) //nolint:errcheck // stopped with the test
	deadline := time.Now().Add(20 * time.Second)
	for !v2.Status().Active || !strings.Contains(logs.String(), "projection retired") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("the worker ended when orders retired: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("orders version 1 did not retire in the worker:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the worker ended after orders retired: %v\n%s", err, logs.String())
	case <-time.After(1500 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("worker: %v", err)
	}
}
