package projection_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

type stockAddedV1 struct {
	Qty int `json:"qty"`
}
type stockAdded struct {
	Quantity int `json:"quantity"`
}

func TestHandleUpcastsLikeTheDecider(t *testing.T) {
	ctx := context.Background()
	reg := command.NewRegistry(nil)
	err := command.Register[stockAdded](reg, "StockAdded", &command.EventOptions{
		Version: 2,
		Upcasters: map[int]command.UpcastFunc{1: command.Upcast(command.JSONCodec{}, func(v1 stockAddedV1) (stockAdded, error) {
			return stockAdded{Quantity: v1.Qty}, nil
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	events, models := memstore.New(nil), memstore.NewReadModels(nil)
	type stock struct{ Total int }
	m := readmodel.Model[stock]{}
	p := projection.New("stock", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e stockAdded) error {
		s, _, err := projection.Load(ctx, tx, m, rec.StreamID)
		if err != nil {
			return err
		}
		s.Total += e.Quantity
		return projection.Store(tx, m, rec.StreamID, s)
	})
	// One event written before the upcaster existed (schema 1), one now.
	v2, err := reg.Encode(stockAdded{Quantity: 5})
	if err != nil {
		t.Fatal(err)
	}
	res, err := events.Append(ctx, "item-1", eventstore.NoStream, []eventstore.Event{
		{Type: "StockAdded", Data: []byte(`{"qty":10}`)}, v2,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(events, nil), Store: models})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go r.Run(runCtx) //nolint:errcheck
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := projection.WaitFor(waitCtx, models, "stock", "", res.Position); err != nil {
		t.Fatal(err)
	}
	ns, err := projection.Active(ctx, models, "stock", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.View(readmodel.ReadOnly(models), ns).Get(ctx, "item-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 15 {
		t.Fatalf("read model counts %d, the decider's registry folds 15", got.Total)
	}
}
