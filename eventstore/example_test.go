package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
)

// auditedStore is an application's own decorator. Its Unwrap method keeps
// every capability of the store it wraps.
type auditedStore struct{ eventstore.Store }

func (s auditedStore) Unwrap() eventstore.Store { return s.Store }

// As finds a capability through the application's decorator; a store
// without it is told apart with errors.ErrUnsupported.
func ExampleAs() {
	ctx := context.Background()
	store := auditedStore{memstore.New(nil)}
	if _, err := store.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{{Type: "Placed", Data: []byte(`{}`)}}); err != nil {
		log.Fatal(err)
	}
	head, err := eventstore.Head(ctx, store)
	if err != nil {
		log.Fatal(err)
	}
	_, keyed := eventstore.As[eventstore.KeyedAppender](store)
	fmt.Println("head:", head, "keyed:", keyed)

	_, err = eventstore.Outcomes(struct{ eventstore.Store }{store}) // no Unwrap: nothing to find
	fmt.Println(errors.Is(err, errors.ErrUnsupported))
	// Output:
	// head: 1-1 keyed: true
	// true
}

// Instrument runs hooks around a store's calls, here counting appends,
// keyed ones included, while keeping every capability of the store.
func ExampleInstrument() {
	ctx := context.Background()
	appends := 0
	store := eventstore.Instrument(memstore.New(nil), eventstore.Hooks{
		Append: func(ctx context.Context, streamID string, events []eventstore.Event,
			next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
			appends++
			return next(ctx, events)
		},
	})
	keyed, err := eventstore.Keyed(store)
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		res, err := keyed.AppendKeyed(ctx, "cmd-1", "order-1", eventstore.NoStream, []eventstore.Event{{Type: "Placed", Data: []byte(`{}`)}})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("replayed:", res.Replayed)
	}
	fmt.Println("appends:", appends)
	// Output:
	// replayed: false
	// replayed: true
	// appends: 2
}
