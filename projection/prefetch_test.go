package projection_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// readCounter counts the reads of handlers' documents (the Runner's own
// "$" documents and the pointers to active versions aside).
type readCounter struct {
	readmodel.Store
	getMany, get atomic.Int64
}

func (c *readCounter) GetMany(ctx context.Context, ns readmodel.Namespace, ids []string) ([]readmodel.Document, error) {
	if ns.Version == "1" && len(ids) > 0 && !strings.HasPrefix(ids[0], "$") {
		c.getMany.Add(1)
	}
	return c.Store.GetMany(ctx, ns, ids)
}

func (c *readCounter) Get(ctx context.Context, ns readmodel.Namespace, id string) (readmodel.Document, error) {
	if ns.Version == "1" && !strings.HasPrefix(id, "$") {
		c.get.Add(1)
	}
	return c.Store.Get(ctx, ns, id)
}

// A batch reads its documents ahead in one GetMany only when a handler
// reads: a write-only projection reads nothing, and a read-modify-write one
// reads each batch's documents in one round trip, never one by one. (The
// documents the batch before wrote come from that batch, so the log ends
// with a round of deposits over every stream, which read from the store.)
func TestPrefetchOnlyWhenHandlersRead(t *testing.T) {
	es := memstore.New(nil)
	_, streams := appendAccounts(t, es, 20, 5)
	var token eventstore.Position
	for _, s := range streams {
		res, err := es.Append(t.Context(), s, eventstore.Any, []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":100}`)}})
		if err != nil {
			t.Fatal(err)
		}
		token = res.Position
	}

	writeOnly := &readCounter{Store: memstore.NewReadModels(nil)}
	p := projection.New("opened", "1", testEvents)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e opened) error {
		return projection.Store(tx, accounts, rec.StreamID, account{Owner: e.Owner, Events: 1})
	})
	startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: writeOnly, BatchSize: 7})
	waitFor(t, writeOnly, "opened", token)
	if n, g := writeOnly.getMany.Load(), writeOnly.get.Load(); n != 0 || g != 0 {
		t.Errorf("write-only projection made %d GetMany and %d Get calls, want none", n, g)
	}

	rmw := &readCounter{Store: memstore.NewReadModels(nil)}
	startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rmw, BatchSize: 7})
	waitFor(t, rmw, "balances", token)
	batches := int64((20*7 + 6) / 7)
	if n := rmw.getMany.Load(); n == 0 || n > batches {
		t.Errorf("read-modify-write projection made %d GetMany calls, want 1 to %d (one per batch at most)", n, batches)
	}
	if g := rmw.get.Load(); g != 0 {
		t.Errorf("read-modify-write projection made %d single Gets, want none (all read ahead)", g)
	}
	ns, err := projection.Active(t.Context(), rmw, "balances", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fold(t, es), readAll(t, rmw, ns, streams)); diff != "" {
		t.Errorf("read model differs from the fold of the store (-want +got):\n%s", diff)
	}
}
