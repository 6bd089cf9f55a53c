package watermillbus_test

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
)

// The event store as a Watermill Pub/Sub: messages published to "order-1"
// and "order-2" are events of those streams, and a subscription to the
// category "order" receives both, in log order, with their metadata.
func ExamplePublisher() {
	store := memstore.New(nil)
	pub := watermillbus.NewPublisher(store, nil)
	for i, stream := range []string{"order-1", "invoice-1", "order-2"} {
		msg := message.NewMessage(fmt.Sprintf("msg-%d", i), []byte(`{}`))
		msg.Metadata.Set("user_id", "ada")
		if err := pub.Publish(stream, msg); err != nil {
			fmt.Println(err)
			return
		}
	}

	sub := watermillbus.NewLogSubscriber(store, nil)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, err := sub.Subscribe(ctx, "order")
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		msg := <-msgs
		fmt.Println(msg.UUID, msg.Metadata.Get(watermillbus.MetadataStreamID), msg.Metadata.Get("user_id"))
		msg.Ack()
	}
	// Output:
	// msg-0 order-1 ada
	// msg-2 order-2 ada
}
