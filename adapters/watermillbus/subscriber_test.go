package watermillbus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
)

// TestLogSubscriberOnRouter runs a handler on a Watermill Router fed by the
// log: it sees every event once acked, in log order, with its metadata, and
// a nacked message comes again before anything after it.
func TestLogSubscriberOnRouter(t *testing.T) {
	store := memstore.New(nil)
	ctx := t.Context()
	for i := 0; i < 20; i++ {
		if _, err := store.Append(ctx, fmt.Sprintf("s-%d", i%4), eventstore.Any, []eventstore.Event{
			{Type: "E", Data: []byte(fmt.Sprintf(`{"n":%d}`, i)), Metadata: eventstore.Metadata{CorrelationID: fmt.Sprintf("c-%d", i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	sub := watermillbus.NewLogSubscriber(store, &watermillbus.LogSubscriberOptions{NackDelay: time.Millisecond})
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []eventstore.Record
	nacked := false
	done := make(chan struct{})
	router.AddConsumerHandler("log", "log", sub, func(msg *message.Message) error {
		rec, _, err := watermillbus.Record(msg)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 5 && !nacked {
			nacked = true
			return fmt.Errorf("fail once")
		}
		seen = append(seen, rec)
		if len(seen) == 20 {
			close(done)
		}
		return nil
	})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go router.Run(rctx) //nolint:errcheck
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the router saw %d of 20 events", len(seen))
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	for i, r := range seen {
		if i > 0 && !seen[i-1].Position.Before(r.Position) {
			t.Errorf("event %d at %v is not after %v", i, r.Position, seen[i-1].Position)
		}
		if r.Metadata.CorrelationID != fmt.Sprintf("c-%d", i) {
			t.Errorf("event %d has correlation ID %q", i, r.Metadata.CorrelationID)
		}
	}
	if !nacked {
		t.Error("the nack path was not exercised")
	}
}
