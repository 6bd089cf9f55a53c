package projection_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// Example builds a read model of account balances from the log, waits for
// a write to be visible, and queries it by index.
func Example() {
	ctx := context.Background()
	events := memstore.New(nil)               // in production: pgstore
	readModels := memstore.NewReadModels(nil) // in production: redisstore

	type Account struct {
		Owner   string `json:"owner"`
		Balance int64  `json:"balance"`
	}
	accounts := readmodel.Model[Account]{Indexes: []readmodel.Index[Account]{
		readmodel.By("owner", func(a Account) readmodel.Value { return readmodel.String(a.Owner) }),
	}}

	// The registry the command side encodes events with: the projection
	// decodes through it (type names, upcasters, codec).
	type AccountOpened struct{ Owner string }
	type MoneyDeposited struct{ Amount int64 }
	reg := command.NewRegistry(nil)
	if err := errors.Join(
		command.Register[AccountOpened](reg, "AccountOpened", nil),
		command.Register[MoneyDeposited](reg, "MoneyDeposited", nil),
	); err != nil {
		log.Fatal(err)
	}

	p := projection.New("accounts", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e AccountOpened) error {
		return projection.Store(tx, accounts, rec.StreamID, Account{Owner: e.Owner})
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e MoneyDeposited) error {
		a, _, err := projection.Load(ctx, tx, accounts, rec.StreamID)
		if err != nil {
			return err
		}
		a.Balance += e.Amount
		return projection.Store(tx, accounts, rec.StreamID, a)
	})

	runner, err := projection.NewRunner(projection.Config{
		Projection: p,
		Source:     projection.LogSource(events, nil),
		Store:      readModels,
	})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go runner.Run(runCtx) //nolint:errcheck

	var batch []eventstore.Event
	for _, e := range []any{AccountOpened{Owner: "ada"}, MoneyDeposited{Amount: 120}} {
		ev, err := reg.Encode(e)
		if err != nil {
			log.Fatal(err)
		}
		batch = append(batch, ev)
	}
	res, err := events.Append(ctx, "account-1", eventstore.NoStream, batch)
	if err != nil {
		log.Fatal(err)
	}

	// Read-your-writes: wait until the projection includes the append.
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := projection.WaitFor(waitCtx, readModels, "accounts", "", res.Position); err != nil {
		log.Fatal(err)
	}

	ns, err := projection.Active(ctx, readModels, "accounts", "")
	if err != nil {
		log.Fatal(err)
	}
	view := accounts.View(readmodel.ReadOnly(readModels), ns)
	page, err := view.Query(ctx, readmodel.Equal("owner", readmodel.String("ada")))
	if err != nil {
		log.Fatal(err)
	}
	for _, item := range page.Items {
		fmt.Printf("%s: %s has %d\n", item.ID, item.Doc.Owner, item.Doc.Balance)
	}
	// Output: account-1: ada has 120
}

// A read model spread over partitions (Config.Spread): each partition's
// Runner writes a namespace of its own, which Redis Cluster places on a
// hash slot of its own, and queries read the whole through Serving.
func ExampleServing() {
	ctx := context.Background()
	events := memstore.New(nil)
	readModels := memstore.NewReadModels(nil) // in production: redisstore on a ClusterClient

	type Visits struct {
		Count int `json:"count"`
	}
	visits := readmodel.Model[Visits]{Indexes: []readmodel.Index[Visits]{
		readmodel.By("count", func(v Visits) readmodel.Value { return readmodel.Int(int64(v.Count)) }),
	}}
	p := projection.New("visits", "1", nil)
	p.On("Visited", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		// Keyed by the stream's ID: the document lives in the partition
		// that applies the stream.
		v, _, err := projection.Load(ctx, tx, visits, rec.StreamID)
		if err != nil {
			return err
		}
		v.Count++
		return projection.Store(tx, visits, rec.StreamID, v)
	})

	const partitions = 3
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	for k := range partitions { // in production: a projection.Group per process
		r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(events, nil),
			Store: readModels, Partitions: partitions, Partition: k, Spread: true})
		if err != nil {
			log.Fatal(err)
		}
		go r.Run(runCtx) //nolint:errcheck
	}

	var last eventstore.Position
	for _, page := range []string{"home", "about", "home", "blog", "home", "about"} {
		res, err := events.Append(ctx, "page-"+page, eventstore.Any, []eventstore.Event{{Type: "Visited", Data: []byte("{}")}})
		if err != nil {
			log.Fatal(err)
		}
		last = res.Position
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// WaitFor waits for every partition.
	if err := projection.WaitFor(waitCtx, readModels, "visits", "", last); err != nil {
		log.Fatal(err)
	}

	reader, ns, err := projection.Serving(ctx, readModels, "visits", "")
	if err != nil {
		log.Fatal(err)
	}
	q := readmodel.All("count")
	q.Descending = true
	page, err := visits.View(reader, ns).Query(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range page.Items {
		fmt.Println(it.ID, it.Doc.Count)
	}
	// Output:
	// page-home 3
	// page-about 2
	// page-blog 1
}
