package projectionops_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// ExampleInspect finds the projections an application runs and how far
// each has got, from the read-model store alone, as a tool in another
// process would.
func ExampleInspect() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := memstore.New(nil)
	readModels := memstore.NewReadModels(nil)
	res, err := events.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}})
	if err != nil {
		log.Fatal(err)
	}

	// The application runs a projection in two partitions.
	p := projection.New("orders", "1", nil)
	p.On("OrderPlaced", func(context.Context, *projection.Tx, eventstore.Record) error { return nil })
	for k := range 2 {
		r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(events, nil),
			Store: readModels, Partitions: 2, Partition: k})
		if err != nil {
			log.Fatal(err)
		}
		go r.Run(ctx) //nolint:errcheck // ends with ctx
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := projection.WaitFor(wctx, readModels, "orders", "", res.Position); err != nil {
		log.Fatal(err)
	}

	// The tool knows no names: the catalog tells them.
	entries, err := projectionops.ListProjections(ctx, readModels)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		in, err := projectionops.Inspect(ctx, readModels, e.Name, e.Tenant, nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: version %s active, %d partitions\n", e.Name, in.Active, len(in.Partitions))
		for k, cp := range in.Partitions {
			fmt.Printf("  partition %d reached the order: %v\n", k, !cp.Position.Before(res.Position))
		}
	}
	// Output:
	// orders: version 1 active, 2 partitions
	//   partition 0 reached the order: true
	//   partition 1 reached the order: true
}
