package memstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
)

// Archiving seals a finished stream: its events leave the log for the
// archive, which still reads them, and readers of the log meet the marker.
func ExampleStore_ArchiveStream() {
	ctx := context.Background()
	store := memstore.New(nil)
	store.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{
		{Type: "OrderPlaced", Data: []byte(`{}`)}, {Type: "OrderShipped", Data: []byte(`{}`)}})

	ar, err := eventstore.Archiver(store)
	if err != nil {
		fmt.Println(err) // the store cannot archive streams
		return
	}
	ar.ArchiveStream(ctx, "order-1", eventstore.Exact(2))

	_, err = store.Append(ctx, "order-1", eventstore.Any, []eventstore.Event{{Type: "OrderReturned", Data: []byte(`{}`)}})
	fmt.Println("sealed:", errors.Is(err, eventstore.ErrStreamArchived))
	log, _ := store.ReadAll(ctx, eventstore.Position{}, 0)
	for _, r := range log {
		fmt.Println("log:", r.Type, r.Version)
	}
	archived, _ := ar.ReadArchivedStream(ctx, "order-1", 0, 0)
	for _, r := range archived {
		fmt.Println("archive:", r.Type, r.Version)
	}
	// Output:
	// sealed: true
	// log: $stream.archived 3
	// archive: OrderPlaced 1
	// archive: OrderShipped 2
}
