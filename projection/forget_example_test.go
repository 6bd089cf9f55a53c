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

// A projection that copies a customer's e-mail into its read model removes
// it when the customer is forgotten.
func ExampleProjection_OnForget() {
	ctx := context.Background()
	events, keys := memstore.New(nil), memstore.NewKeys(nil) // in production: pgstore
	readModels := memstore.NewReadModels(nil)                // in production: redisstore

	type CustomerJoined struct {
		CustomerID string
		Email      string `eventfold:"pii,subject=CustomerID"`
		Country    string
	}
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		log.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[CustomerJoined](reg, "CustomerJoined", nil); err != nil {
		log.Fatal(err)
	}

	type Customer struct{ Email, Country string }
	customers := readmodel.Model[Customer]{}
	p := projection.New("customers", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e CustomerJoined) error {
		return projection.Store(tx, customers, e.CustomerID, Customer{Email: e.Email, Country: e.Country})
	})
	p.OnForget(func(ctx context.Context, tx *projection.Tx, subject string) error {
		c, ok, err := projection.Load(ctx, tx, customers, subject)
		if err != nil || !ok {
			return err
		}
		return projection.Store(tx, customers, subject, Customer{Country: c.Country})
	})
	runner, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(events, nil), Store: readModels})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go runner.Run(runCtx) //nolint:errcheck

	ev, err := reg.Encode(CustomerJoined{CustomerID: "c-42", Email: "ada@example.org", Country: "UK"})
	if err != nil {
		log.Fatal(err)
	}
	res, err := events.Append(ctx, "customer-c-42", eventstore.NoStream, []eventstore.Event{ev})
	if err != nil {
		log.Fatal(err)
	}
	show := func(pos eventstore.Position) {
		waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := projection.WaitFor(waitCtx, readModels, "customers", "", pos); err != nil {
			log.Fatal(err)
		}
		c, err := customers.View(readModels, p.Namespace("")).Get(ctx, "c-42")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%+v\n", c)
	}
	show(res.Position)

	// One call forgets the key (and with it the events' e-mail and any
	// snapshot naming c-42) and has the projections forget c-42.
	pos, err := command.Forget(ctx, keys, events, "c-42", nil)
	if err != nil {
		log.Fatal(err)
	}
	show(pos)
	// Output:
	// {Email:ada@example.org Country:UK}
	// {Email: Country:UK}
}
