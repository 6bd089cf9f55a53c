package projection_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// countingReader counts the reads a Waiter makes of the read-model store.
type countingReader struct {
	readmodel.Reader
	reads atomic.Int64
}

func (c *countingReader) Get(ctx context.Context, ns readmodel.Namespace, id string) (readmodel.Document, error) {
	c.reads.Add(1)
	return c.Reader.Get(ctx, ns, id)
}

func (c *countingReader) GetMany(ctx context.Context, ns readmodel.Namespace, ids []string) ([]readmodel.Document, error) {
	c.reads.Add(1)
	return c.Reader.GetMany(ctx, ns, ids)
}

// TestWaiterFollowsLocalRunner has a Waiter given the Runner of its
// projection answer every token from the Runner's commits, without
// reading the store, and the read model shows each command once it has.
func TestWaiterFollowsLocalRunner(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	r, _ := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm})
	first, err := es.Append(t.Context(), "acct-first", eventstore.NoStream, []eventstore.Event{{Type: "Opened", Data: []byte(`{"owner":"o"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", first.Position) // the version is active

	reader := &countingReader{Reader: rm}
	w := projection.NewWaiter(reader, "balances", "", &projection.WaiterOptions{Runner: r})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("acct-%d", i)
			res, err := es.Append(context.Background(), stream, eventstore.NoStream, []eventstore.Event{
				{Type: "Opened", Data: []byte(`{"owner":"o"}`)}, {Type: "Deposited", Data: []byte(fmt.Sprintf(`{"amount":%d}`, i))}})
			if err != nil {
				t.Error(err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := w.WaitFor(ctx, res.Position); err != nil {
				t.Errorf("WaitFor(%s) = %v", res.Position, err)
				return
			}
			ns := readmodel.Namespace{Projection: "balances", Version: "1"}
			if a, err := accounts.View(rm, ns).Get(ctx, stream); err != nil || a.Balance != int64(i) {
				t.Errorf("after WaitFor %s = %+v, %v; want balance %d", stream, a, err, i)
			}
		}()
	}
	wg.Wait()
	if n := reader.reads.Load(); n != 0 {
		t.Errorf("the Waiter read the store %d times while its Runner served readers; want 0", n)
	}
}

// TestWaiterFallsBackToStore has a Waiter whose Runner has stopped, or
// belongs to another projection, read the checkpoints from the store.
func TestWaiterFallsBackToStore(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	r, stop := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm})
	res, err := es.Append(t.Context(), "acct-1", eventstore.NoStream, []eventstore.Event{{Type: "Opened", Data: []byte(`{"owner":"o"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", res.Position)
	other, err := projection.NewRunner(projection.Config{Projection: projection.New("other", "1", testEvents),
		Source: projection.LogSource(es, nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	_ = stop()
	for name, runner := range map[string]*projection.Runner{"stopped": r, "another projection's": other} {
		reader := &countingReader{Reader: rm}
		w := projection.NewWaiter(reader, "balances", "", &projection.WaiterOptions{Runner: runner})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		if err := w.WaitFor(ctx, res.Position); err != nil {
			t.Errorf("with a %s Runner: WaitFor(%s) = %v", name, res.Position, err)
		}
		cancel()
		if reader.reads.Load() == 0 {
			t.Errorf("with a %s Runner: the Waiter answered without reading the store", name)
		}
	}
}
