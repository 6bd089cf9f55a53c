package memstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
)

// A soft delete hides a stream until an append recreates it; readers of
// the log meet the deletion marker in order.
func ExampleStore_DeleteStream() {
	ctx := context.Background()
	store := memstore.New(nil)
	opened := []eventstore.Event{{Type: "AccountOpened", Data: []byte(`{}`)}}
	store.Append(ctx, "account-1", eventstore.NoStream, opened)

	lc, err := eventstore.Lifecycle(store)
	if err != nil {
		fmt.Println(err) // the store cannot delete streams
		return
	}
	lc.DeleteStream(ctx, "account-1", eventstore.Exact(1), eventstore.SoftDelete)
	_, err = store.ReadStream(ctx, "account-1", 0, eventstore.Forward, 0)
	fmt.Println("deleted:", errors.Is(err, eventstore.ErrStreamNotFound))

	res, _ := store.Append(ctx, "account-1", eventstore.NoStream, opened)
	fmt.Println("recreated at version", res.StreamVersion)

	log, _ := store.ReadAll(ctx, eventstore.Position{}, 0)
	for _, r := range log {
		if e, ok := eventstore.LifecycleEventOf(r); ok {
			fmt.Printf("%s of %s after version %d\n", e.Type, e.StreamID, e.Version)
		}
	}
	// Output:
	// deleted: true
	// recreated at version 3
	// $stream.deleted of account-1 after version 1
}

// A hard delete tombstones the stream: it can never be appended to again.
func ExampleStore_DeleteStream_hard() {
	ctx := context.Background()
	store := memstore.New(nil)
	store.Append(ctx, "user-7", eventstore.NoStream, []eventstore.Event{{Type: "UserRegistered", Data: []byte(`{}`)}})

	store.DeleteStream(ctx, "user-7", eventstore.Any, eventstore.HardDelete)
	_, err := store.Append(ctx, "user-7", eventstore.Any, []eventstore.Event{{Type: "UserRegistered", Data: []byte(`{}`)}})
	fmt.Println(errors.Is(err, eventstore.ErrStreamDeleted))
	// Output:
	// true
}

// After a snapshot holds a stream's early events, truncating hides them.
func ExampleStore_TruncateStream() {
	ctx := context.Background()
	store := memstore.New(nil)
	ev := eventstore.Event{Type: "Ticked", Data: []byte(`{}`)}
	store.Append(ctx, "clock", eventstore.NoStream, []eventstore.Event{ev, ev, ev, ev})

	store.TruncateStream(ctx, "clock", 3)
	recs, _ := store.ReadStream(ctx, "clock", 0, eventstore.Forward, 0)
	for _, r := range recs {
		fmt.Println(r.Version)
	}
	// Output:
	// 3
	// 4
}
