package memstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
)

// Two tenants append to the same stream ID: each has its own stream, and
// only the all-tenants view reads both.
func ExampleStore_ForTenant() {
	ctx := context.Background()
	store := memstore.New(nil)
	acme, _ := store.ForTenant("acme")
	globex, _ := store.ForTenant("globex")

	opened := []eventstore.Event{{Type: "AccountOpened", Data: []byte(`{}`)}}
	a, _ := acme.Append(ctx, "account-1", eventstore.NoStream, opened)
	g, _ := globex.Append(ctx, "account-1", eventstore.NoStream, opened)
	fmt.Println("acme at version", a.StreamVersion, "globex at version", g.StreamVersion)

	_, err := store.ReadStream(ctx, "account-1", 0, eventstore.Forward, 0)
	fmt.Println("default tenant:", errors.Is(err, eventstore.ErrStreamNotFound))

	all, _ := store.AllTenants().ReadAll(ctx, eventstore.Position{}, 0)
	for _, r := range all {
		fmt.Println(r.Tenant, r.StreamID, r.Version)
	}
	// Output:
	// acme at version 1 globex at version 1
	// default tenant: true
	// acme account-1 1
	// globex account-1 1
}

// A reader of one event type reads only those events, and each page's
// Through moves past the others: resuming after it, the reader neither
// reads them again nor stalls when none of its type arrives.
func ExampleStore_ReadAllFiltered() {
	ctx := context.Background()
	store := memstore.New(nil)
	ev := func(typ string) []eventstore.Event { return []eventstore.Event{{Type: typ, Data: []byte(`{}`)}} }
	store.Append(ctx, "order-1", eventstore.NoStream, ev("OrderPlaced"))
	store.Append(ctx, "order-1", eventstore.Exact(1), ev("OrderViewed"))
	store.Append(ctx, "order-2", eventstore.NoStream, ev("OrderPlaced"))
	store.Append(ctx, "order-2", eventstore.Exact(1), ev("OrderViewed"))

	placed := eventstore.Filter{Types: []string{"OrderPlaced"}}
	var checkpoint eventstore.Position
	for {
		page, err := store.ReadAllFiltered(ctx, checkpoint, placed, 1)
		if err != nil || checkpoint == page.Through {
			break // nothing new: caught up
		}
		for _, r := range page.Records {
			fmt.Println(r.StreamID, r.Type, "at", r.Position)
		}
		checkpoint = page.Through
		fmt.Println("through", checkpoint)
	}
	// Output:
	// order-1 OrderPlaced at 1-1
	// through 1-1
	// order-2 OrderPlaced at 3-3
	// through 3-3
	// through 4-4
}
