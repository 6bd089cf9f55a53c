package watermillbus_test

import (
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// A published message becomes an event of the stream named by the topic,
// with the user's metadata, and comes back from a LogSubscriber under its
// own UUID; Record on the delivered message gives the stored event.
func TestPublisherAppendsMessages(t *testing.T) {
	store := memstore.New(nil)
	pub := watermillbus.NewPublisher(store, nil)
	msg := message.NewMessage(watermill.NewULID(), []byte(`{"total":3}`))
	msg.Metadata.Set("user_id", "u-1")
	msg.Metadata.Set(watermillbus.MetadataCorrelationID, "corr")
	msg.Metadata.Set(watermillbus.MetadataType, "OrderPlaced")
	raw := message.NewMessage(watermill.NewUUID(), []byte("not json"))
	if err := pub.Publish("order-1", msg, raw); err != nil {
		t.Fatal(err)
	}
	recs, err := store.ReadStream(t.Context(), "order-1", 0, eventstore.Forward, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d events stored, want 2", len(recs))
	}
	got := recs[0]
	if got.ID != watermillbus.EventIDFor("order-1", msg.UUID) || got.Type != "OrderPlaced" || got.ContentType != eventstore.ContentTypeJSON ||
		got.Metadata.CorrelationID != "corr" || got.Metadata.Extra["user_id"] != "u-1" || got.Metadata.Extra[watermillbus.MetadataMessageUUID] != msg.UUID {
		t.Errorf("stored event %+v", got)
	}
	if recs[1].Type != "order-1" || recs[1].ContentType != watermillbus.ContentTypeBytes {
		t.Errorf("a message without type and JSON payload is stored with type %q, content type %q", recs[1].Type, recs[1].ContentType)
	}

	sub := watermillbus.NewLogSubscriber(store, nil)
	defer sub.Close()
	msgs, err := sub.Subscribe(t.Context(), "order")
	if err != nil {
		t.Fatal(err)
	}
	delivered := receive(t, msgs)
	delivered.Ack()
	if delivered.UUID != msg.UUID || delivered.Metadata.Get("user_id") != "u-1" || string(delivered.Payload) != `{"total":3}` {
		t.Errorf("delivered message %s %v %s", delivered.UUID, delivered.Metadata, delivered.Payload)
	}
	rec, _, err := watermillbus.Record(delivered)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != got.ID || rec.Metadata.Extra[watermillbus.MetadataMessageUUID] != msg.UUID {
		t.Errorf("Record of the delivered message: ID %s, metadata %v; want the stored event's", rec.ID, rec.Metadata)
	}
}

// Publishing a message again stores nothing, alone or in a batch with new
// ones; the same message published to two topics is an event of each.
func TestPublisherIsIdempotent(t *testing.T) {
	t.Run("memstore", func(t *testing.T) { testPublisherIsIdempotent(t, memstore.New(nil)) })
	t.Run("pgstore", func(t *testing.T) {
		pool, schema := testenv.Schema(t)
		opts := &pgstore.Options{Schema: schema}
		if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
			t.Fatal(err)
		}
		store, err := pgstore.New(pool, opts)
		if err != nil {
			t.Fatal(err)
		}
		testPublisherIsIdempotent(t, store)
	})
}

func testPublisherIsIdempotent(t *testing.T, store eventstore.Store) {
	pub := watermillbus.NewPublisher(store, nil)
	a := message.NewMessage(watermill.NewUUID(), []byte(`1`))
	b := message.NewMessage(watermill.NewUUID(), []byte(`2`))
	for _, batch := range [][]*message.Message{{a}, {a}, {a, b}, {a, b}} {
		if err := pub.Publish("s", batch...); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish("t", a); err != nil {
		t.Fatal(err)
	}
	for stream, want := range map[string]int{"s": 2, "t": 1} {
		recs, err := store.ReadStream(t.Context(), stream, 0, eventstore.Forward, 0)
		if err != nil || len(recs) != want {
			t.Errorf("stream %s holds %d events (%v), want %d", stream, len(recs), err, want)
		}
	}
}

func TestPublisherRefuses(t *testing.T) {
	store := memstore.New(nil)
	pub := watermillbus.NewPublisher(store, nil)
	if err := pub.Publish(watermillbus.TopicAll, message.NewMessage(watermill.NewUUID(), []byte(`1`))); err == nil {
		t.Error("Publish to TopicAll succeeded")
	}
	if err := pub.Publish("s", message.NewMessage("", []byte(`1`))); err == nil {
		t.Error("Publish of a message without UUID succeeded")
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("s", message.NewMessage(watermill.NewUUID(), []byte(`1`))); !errors.Is(err, watermillbus.ErrPublisherClosed) {
		t.Errorf("Publish after Close = %v, want ErrPublisherClosed", err)
	}
	if _, err := store.ReadStream(t.Context(), "s", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("a refused publish stored events: %v", err)
	}
}
