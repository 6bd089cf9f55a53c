package natsjs_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/eventfold/eventfold/adapters/natsjs"
	"github.com/eventfold/eventfold/internal/testenv"
)

func jetStream(t *testing.T) nats.JetStreamContext {
	t.Helper()
	url := os.Getenv("EVENTFOLD_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	conn, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		testenv.Unavailable(t, "NATS", err)
	}
	t.Cleanup(conn.Close)
	js, err := conn.JetStream(nats.MaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestEnsureConsumer(t *testing.T) {
	js := jetStream(t)
	topic := fmt.Sprintf("eventfold_natsjs_%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = js.DeleteStream(topic) })
	c := natsjs.Consumer{Stream: topic, Subject: topic, Durable: "tally", QueueGroup: "tally", AckWait: 5 * time.Second}

	info, err := natsjs.EnsureConsumer(t.Context(), js, c)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Config; got.DeliverGroup != "tally" || got.FilterSubject != topic || got.AckPolicy != nats.AckExplicitPolicy ||
		got.AckWait != 5*time.Second || got.DeliverSubject == "" {
		t.Errorf("consumer config = %+v", got)
	}
	if _, err := natsjs.EnsureConsumer(t.Context(), js, c); err != nil {
		t.Errorf("second EnsureConsumer: %v", err)
	}

	// A subscription with these options binds to the consumer, and ending
	// it leaves the consumer in place.
	sub, err := js.QueueSubscribe(topic, "tally", func(*nats.Msg) {}, append(c.SubscribeOptions(), nats.Durable("tally"))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := js.ConsumerInfo(topic, "tally"); err != nil {
		t.Errorf("the consumer is gone after the subscription ended: %v", err)
	}

	other := c
	other.QueueGroup = "other"
	if _, err := natsjs.EnsureConsumer(t.Context(), js, other); err == nil || !strings.Contains(err.Error(), "deliver group") {
		t.Errorf("EnsureConsumer with another queue group: err = %v, want one naming the deliver group", err)
	}
}

func TestEnsureConsumerRequiresNames(t *testing.T) {
	_, err := natsjs.EnsureConsumer(t.Context(), nil, natsjs.Consumer{Stream: "s"})
	for _, f := range []string{"Subject", "Durable", "QueueGroup"} {
		if err == nil || !strings.Contains(err.Error(), "Consumer."+f) {
			t.Errorf("err = %v, want it to name Consumer.%s", err, f)
		}
	}
}
