package projectiontest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
	"github.com/eventfold/eventfold/readmodel"
)

type stockAddedV1 struct {
	Qty int `json:"qty"`
}
type stockAdded struct {
	Quantity int `json:"quantity"`
}
type stockCleared struct{}

type stock struct{ Total int }

var stockModel = readmodel.Model[stock]{}

func stockProjection(t testing.TB) *projection.Projection {
	reg := command.NewRegistry(nil)
	err := errors.Join(
		command.Register[stockAdded](reg, "StockAdded", &command.EventOptions{
			Version: 2,
			Upcasters: map[int]command.UpcastFunc{1: command.Upcast(command.JSONCodec{}, func(v1 stockAddedV1) (stockAdded, error) {
				return stockAdded{Quantity: v1.Qty}, nil
			})},
		}),
		command.Register[stockCleared](reg, "StockCleared", nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	p := projection.New("stock", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e stockAdded) error {
		if e.Quantity < 0 {
			return fmt.Errorf("negative quantity %d", e.Quantity)
		}
		s, _, err := projection.Load(ctx, tx, stockModel, rec.StreamID)
		if err != nil {
			return err
		}
		s.Total += e.Quantity
		return projection.Store(tx, stockModel, rec.StreamID, s)
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, _ stockCleared) error {
		tx.Delete(rec.StreamID)
		return nil
	})
	return p
}

// Given events as Go values and as stored by an older version, then the
// documents: upcasting, deletes and several Given calls.
func TestScenarioDocuments(t *testing.T) {
	s := projectiontest.For(t, stockProjection(t), memstore.NewReadModels(nil)).
		Given("item-1", eventstore.Event{Type: "StockAdded", Data: []byte(`{"qty":10}`)}, stockAdded{Quantity: 5}).
		Given("item-2", stockAdded{Quantity: 1}, stockCleared{})
	projectiontest.ThenDocuments(s, stockModel, map[string]stock{"item-1": {Total: 15}})
	s.Given("item-2", stockAdded{Quantity: 2})
	projectiontest.ThenDocuments(s, stockModel, map[string]stock{"item-1": {Total: 15}, "item-2": {Total: 2}})
}

// fatalTB records the first failure and stops the scenario there.
type fatalTB struct {
	testing.TB
	msg string
}

type stopped struct{}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(stopped{})
}
func (f *fatalTB) Errorf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func failure(t *testing.T, f func(tb testing.TB)) string {
	tb := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stopped); !ok {
					panic(r)
				}
			}
		}()
		f(tb)
	}()
	return tb.msg
}

// A scenario fails when the projection faults, naming the event, and when
// the documents differ.
func TestScenarioReportsFailures(t *testing.T) {
	msg := failure(t, func(tb testing.TB) {
		s := projectiontest.For(tb, stockProjection(t), memstore.NewReadModels(nil)).Given("item-1", stockAdded{Quantity: -1})
		s.Run()
	})
	if !strings.Contains(msg, "faulted on event 1") || !strings.Contains(msg, "negative quantity") {
		t.Errorf("fault reported as %q", msg)
	}
	msg = failure(t, func(tb testing.TB) {
		s := projectiontest.For(tb, stockProjection(t), memstore.NewReadModels(nil)).Given("item-1", stockAdded{Quantity: 1})
		projectiontest.ThenDocuments(s, stockModel, map[string]stock{"item-1": {Total: 2}})
	})
	if !strings.Contains(msg, "documents differ") {
		t.Errorf("difference reported as %q", msg)
	}
	msg = failure(t, func(tb testing.TB) {
		p := projection.New("bad", "1", command.NewRegistry(nil))
		projection.Handle(p, func(context.Context, *projection.Tx, eventstore.Record, stockAdded) error { return nil })
		projectiontest.For(tb, p, memstore.NewReadModels(nil))
	})
	if !strings.Contains(msg, "not a registered event type") {
		t.Errorf("unregistered type reported as %q", msg)
	}
}
