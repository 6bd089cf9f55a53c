package projection_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// A server that runs its projection gives the Waiter the Runner: while
// the Runner's version serves readers, waits end at its commits, with no
// read of the read-model store.
func ExampleWaiterOptions_runner() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	events := memstore.New(nil)               // in production: pgstore
	readModels := memstore.NewReadModels(nil) // in production: redisstore

	type Opened struct{ Owner string }
	type account struct{ Owner string }
	reg := command.NewRegistry(nil)
	if err := command.Register[Opened](reg, "Opened", nil); err != nil {
		log.Fatal(err)
	}
	p := projection.New("owners", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e Opened) error {
		return projection.Store(tx, readmodel.Model[account]{}, rec.StreamID, account{Owner: e.Owner})
	})
	runner, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(events, nil), Store: readModels})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = runner.Run(ctx) }()
	waiter := projection.NewWaiter(readModels, "owners", "", &projection.WaiterOptions{Runner: runner})

	res, err := events.Append(ctx, "acct-1", eventstore.NoStream, []eventstore.Event{{Type: "Opened", Data: []byte(`{"Owner":"ada"}`)}})
	if err != nil {
		log.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := waiter.WaitFor(wctx, res.Position); err != nil {
		log.Fatal(err)
	}
	ns, _ := projection.Active(ctx, readModels, "owners", "")
	a, _ := readmodel.Model[account]{}.View(readModels, ns).Get(ctx, "acct-1")
	fmt.Println(a.Owner)
	// Output: ada
}
