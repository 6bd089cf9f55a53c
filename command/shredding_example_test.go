package command_test

import (
	"context"
	"fmt"
	"log"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// CustomerRegistered carries two fields of personal data, encrypted with
// the key of the customer named by CustomerID.
type CustomerRegistered struct {
	CustomerID string
	Name       string `eventfold:"pii,subject=CustomerID"`
	Email      string `eventfold:"pii,subject=CustomerID"`
	Country    string
}

func ExampleShreddingCodec() {
	ctx := context.Background()
	keys := memstore.NewKeys(nil) // pgstore.NewKeys(pool, opts) in production
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		log.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[CustomerRegistered](reg, "CustomerRegistered", nil); err != nil {
		log.Fatal(err)
	}
	store := memstore.New(nil)
	ev, err := reg.Encode(CustomerRegistered{CustomerID: "c-42", Name: "Ada", Email: "ada@example.org", Country: "UK"})
	if err != nil {
		log.Fatal(err)
	}
	ev.ID = eventstore.NewEventID()
	if _, err := store.Append(ctx, "customer-c-42", eventstore.NoStream, []eventstore.Event{ev}); err != nil {
		log.Fatal(err)
	}

	show := func() {
		recs, err := store.ReadStream(ctx, "customer-c-42", 1, eventstore.Forward, 0)
		if err != nil {
			log.Fatal(err)
		}
		e, err := reg.Decode(recs[0])
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%+v\n", e)
	}
	show()
	// The customer asks to be forgotten: the key goes, and projections'
	// forget hooks (projection.OnForget) apply the event Forget appends.
	if _, err := command.Forget(ctx, keys, store, "c-42", nil); err != nil {
		log.Fatal(err)
	}
	show()
	// Output:
	// {CustomerID:c-42 Name:Ada Email:ada@example.org Country:UK}
	// {CustomerID:c-42 Name: Email: Country:UK}
}
