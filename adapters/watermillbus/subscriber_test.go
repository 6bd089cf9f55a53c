package watermillbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
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
	router.AddConsumerHandler("log", watermillbus.TopicAll, sub, func(msg *message.Message) error {
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

func appendEvent(t *testing.T, store eventstore.Store, stream string, extra map[string]string) eventstore.AppendResult {
	t.Helper()
	res, err := store.Append(t.Context(), stream, eventstore.Any, []eventstore.Event{{Type: "E", Data: []byte(`{}`), Metadata: eventstore.Metadata{Extra: extra}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func receive(t *testing.T, msgs <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case msg, ok := <-msgs:
		if !ok {
			t.Fatal("the channel closed")
		}
		return msg
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
	return nil
}

// A message's context ends once it is acked or nacked, as Watermill
// requires of a subscriber that does not preserve contexts.
func TestLogSubscriberMessageContextEnds(t *testing.T) {
	store := memstore.New(nil)
	appendEvent(t, store, "s-1", nil)
	sub := watermillbus.NewLogSubscriber(store, &watermillbus.LogSubscriberOptions{NackDelay: time.Millisecond})
	defer sub.Close()
	msgs, err := sub.Subscribe(t.Context(), watermillbus.TopicAll)
	if err != nil {
		t.Fatal(err)
	}
	for _, settle := range []string{"Nack", "Ack"} {
		msg := receive(t, msgs)
		if settle == "Nack" {
			msg.Nack()
		} else {
			msg.Ack()
		}
		select {
		case <-msg.Context().Done():
		case <-time.After(time.Second):
			t.Errorf("the message context is not done after %s", settle)
		}
	}
}

// A topic is a stream category: a subscription receives the events of the
// streams named by the topic or beginning with the topic and "-", in log
// order; TopicAll receives every event.
func TestLogSubscriberTopicIsStreamCategory(t *testing.T) {
	store := memstore.New(nil)
	for _, stream := range []string{"order-1", "invoice-1", "order", "orders-1", "order-2-a", "order-2"} {
		appendEvent(t, store, stream, nil)
	}
	sub := watermillbus.NewLogSubscriber(store, nil)
	defer sub.Close()
	if _, err := sub.Subscribe(t.Context(), ""); err == nil {
		t.Error("Subscribe to an empty topic succeeded")
	}
	for topic, want := range map[string][]string{
		"order":               {"order-1", "order", "order-2-a", "order-2"},
		"order-2":             {"order-2-a", "order-2"},
		"invoice":             {"invoice-1"},
		watermillbus.TopicAll: {"order-1", "invoice-1", "order", "orders-1", "order-2-a", "order-2"},
	} {
		msgs, err := sub.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for range want {
			msg := receive(t, msgs)
			got = append(got, msg.Metadata.Get(watermillbus.MetadataStreamID))
			msg.Ack()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("topic %q delivered streams %v, want %v", topic, got, want)
		}
	}
}

// The event's free-form metadata comes back under the user's own keys.
func TestLogSubscriberCarriesMetadataKeys(t *testing.T) {
	store := memstore.New(nil)
	appendEvent(t, store, "s-1", map[string]string{"test": "v", "user_id": "u-1"})
	sub := watermillbus.NewLogSubscriber(store, nil)
	defer sub.Close()
	msgs, err := sub.Subscribe(t.Context(), watermillbus.TopicAll)
	if err != nil {
		t.Fatal(err)
	}
	msg := receive(t, msgs)
	if got := msg.Metadata.Get("test"); got != "v" {
		t.Errorf("metadata test = %q, want v (metadata %v)", got, msg.Metadata)
	}
	if got := msg.Metadata.Get("user_id"); got != "u-1" {
		t.Errorf("metadata user_id = %q, want u-1", got)
	}
}

// A read of the log that keeps failing (here: the schema was never
// migrated) ends the subscription after ReadRetries attempts: the channel
// closes and the error is logged at Error.
func TestLogSubscriberReportsPersistentReadFailure(t *testing.T) {
	pool, schema := testenv.Schema(t)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.LogBuffer
	sub := watermillbus.NewLogSubscriber(store, &watermillbus.LogSubscriberOptions{
		ReadRetries: 3, MaxRetryDelay: 20 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	defer sub.Close()
	msgs, err := sub.Subscribe(t.Context(), watermillbus.TopicAll)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-msgs:
		if ok {
			t.Fatal("a message from a store without a schema")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the channel is still open 5s after the reads began to fail")
	}
	var errors int
	for _, l := range logs.Lines(t) {
		if l["level"] == "ERROR" && l["topic"] == watermillbus.TopicAll && l["err"] != nil {
			errors++
		}
	}
	if errors != 1 {
		t.Errorf("%d errors logged, want 1: %v", errors, logs.Lines(t))
	}
}

// While it waits to read again after a failure, a subscription stops as
// soon as its context ends.
func TestLogSubscriberStopsWhileRetrying(t *testing.T) {
	pool, schema := testenv.Schema(t)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	sub := watermillbus.NewLogSubscriber(store, &watermillbus.LogSubscriberOptions{
		ReadRetries: -1, MaxRetryDelay: time.Minute, NackDelay: time.Minute,
	})
	defer sub.Close()
	ctx, cancel := context.WithCancel(t.Context())
	msgs, err := sub.Subscribe(ctx, watermillbus.TopicAll)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // failed reads and waits
	cancel()
	select {
	case <-msgs:
	case <-time.After(time.Second):
		t.Fatal("the channel is still open 1s after the context ended")
	}
}

// A subscription that ends after failed reads stops the Router handler
// reading it, and a Router whose handlers have all stopped closes: the
// failure reaches whoever runs the Router.
func TestLogSubscriberFailureStopsRouter(t *testing.T) {
	pool, schema := testenv.Schema(t)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	sub := watermillbus.NewLogSubscriber(store, &watermillbus.LogSubscriberOptions{ReadRetries: 2, MaxRetryDelay: 10 * time.Millisecond})
	defer sub.Close()
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	router.AddConsumerHandler("h", watermillbus.TopicAll, sub, func(*message.Message) error { return nil })
	done := make(chan error, 1)
	go func() { done <- router.Run(t.Context()) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the Router still runs 10s after its subscription failed")
	}
}
