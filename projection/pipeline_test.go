package projection_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// holdFirstCommit holds the first commit of handlers' writes in the store
// until a handler of a later batch has run (or, for a Runner that commits
// each batch before it handles the next, a long while has passed), as a
// slow read-model store would.
type holdFirstCommit struct {
	readmodel.Store
	once    sync.Once
	handled chan struct{} // a handler of a later batch ran
}

func (s *holdFirstCommit) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	if len(b.Writes) > 1 && ns.Projection == "total" && !strings.HasPrefix(b.Writes[0].ID, "$") {
		s.once.Do(func() {
			select {
			case <-s.handled:
			case <-time.After(5 * time.Second): // a Runner that does not pipeline
			}
		})
	}
	return s.Store.Apply(ctx, ns, b)
}

// TestPipelinedCommitReadsBatchInFlight has the next batch's handlers read
// a document while the batch before, which wrote it, is still committing:
// they see that batch's write, not the store's older document, and every
// event counts once.
func TestPipelinedCommitReadsBatchInFlight(t *testing.T) {
	es := memstore.New(nil)
	const events = 20
	for i := range events {
		if _, err := es.Append(t.Context(), "acct", eventstore.ExpectedVersion(i), []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":1}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	store := &holdFirstCommit{Store: memstore.NewReadModels(nil), handled: make(chan struct{}, 1)}
	p := projection.New("total", "1", testEvents)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e deposited) error {
		if rec.Version > 5 { // past the first batch
			select {
			case store.handled <- struct{}{}:
			default:
			}
		}
		a, _, err := projection.Load(ctx, tx, accounts, "total")
		if err != nil {
			return err
		}
		a.Balance += e.Amount
		return projection.Store(tx, accounts, "total", a)
	})
	startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: store, BatchSize: 5})
	waitFor(t, store, "total", lastPosition(t, es))
	a, err := accounts.View(store, readmodel.Namespace{Projection: "total", Version: "1"}).Get(t.Context(), "total")
	if err != nil {
		t.Fatal(err)
	}
	if a.Balance != events {
		t.Errorf("total = %d after %d deposits of 1", a.Balance, events)
	}
}
