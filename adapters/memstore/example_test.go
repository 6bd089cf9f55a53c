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
