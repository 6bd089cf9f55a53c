package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	nc "github.com/nats-io/nats.go"

	"github.com/eventfold/eventfold/adapters/natsjs"
	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/projection"
)

// countingSubscriber passes messages through and counts how often each
// event was delivered.
type countingSubscriber struct {
	message.Subscriber

	mu         sync.Mutex
	deliveries map[string]int
}

func (c *countingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := c.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for msg := range in {
			c.mu.Lock()
			c.deliveries[msg.UUID]++
			c.mu.Unlock()
			select {
			case out <- msg:
			case <-ctx.Done():
				msg.Nack()
				return
			}
		}
	}()
	return out, nil
}

// duplicates returns how many deliveries repeated an event already
// delivered.
func (c *countingSubscriber) duplicates() (events, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.deliveries {
		events++
		dups += n - 1
	}
	return events, dups
}

// TestNATSRestart stops NATS (JetStream keeps the stream and the durable
// consumer in /var/lib/nats-server) for a second while writers append, the
// relay forwards the log to JetStream and a runner consumes it into Redis,
// set up as the bank example is: the durable consumer made up front by
// natsjs.EnsureConsumer and bound to. Clients reconnect, the relay
// publishes again from its checkpoint, and the read model ends equal to the
// fold of the store: every event arrives, and the duplicates JetStream
// redelivers are absorbed by watermillbus.Source. It runs with one event
// per message and with batch envelopes of up to 10.
func TestNATSRestart(t *testing.T) {
	requireChaos(t)
	for _, perMessage := range []int{1, 10} {
		t.Run(fmt.Sprintf("events_per_message_%d", perMessage), func(t *testing.T) {
			natsRestart(t, perMessage)
		})
	}
}

func natsRestart(t *testing.T, eventsPerMessage int) {
	e := setup(t)
	topic := "eventfold_chaos_" + strings.TrimPrefix(e.opts.Schema, "t_")
	reconnect := []nc.Option{nc.ReconnectWait(100 * time.Millisecond), nc.MaxReconnects(600), nc.Timeout(time.Second)}
	logger := watermill.NopLogger{}
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: natsURL(), NatsOptions: reconnect,
		Marshaler: &wmnats.NATSMarshaler{}, JetStream: wmnats.JetStreamConfig{AutoProvision: true, TrackMsgId: true}}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	t.Cleanup(func() { deleteStream(t, topic) })

	consumer := natsjs.Consumer{Stream: topic, Subject: topic, Durable: topic + "_tallies", QueueGroup: topic + "_tallies",
		AckWait: 2 * time.Second}
	conn, err := nc.Connect(natsURL(), reconnect...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	js, err := conn.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := natsjs.EnsureConsumer(t.Context(), js, consumer); err != nil {
		t.Fatal(err)
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(conn, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler: &wmnats.NATSMarshaler{}, QueueGroupPrefix: consumer.QueueGroup, SubscribersCount: 1,
		AckWaitTimeout: consumer.AckWait, CloseTimeout: 2 * time.Second, SubscribeTimeout: 5 * time.Second,
		JetStream: wmnats.JetStreamConfig{DurablePrefix: consumer.Durable, SubscribeOptions: consumer.SubscribeOptions()},
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	counting := &countingSubscriber{Subscriber: sub, deliveries: map[string]int{}}

	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
		Store: e.store, Publisher: pub, Topic: topic, Checkpoints: pgstore.NewCheckpoints(e.pool, e.opts),
		Poll:             projection.LogOptions{MaxPoll: 20 * time.Millisecond},
		EventsPerMessage: eventsPerMessage,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); relay.Run(ctx) }() //nolint:errcheck
	t.Cleanup(func() { cancel(); <-relayDone })
	rn := startRunner(t, watermillbus.NewSource(counting, topic, nil), e.rm, 100)
	var status statusLog
	wctx, stopWatch := context.WithCancel(t.Context())
	go status.watch(wctx, rn, 10*time.Millisecond)

	w := startWriters(e.store, 4, 1000, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	_, before := relay.Active()
	restartService(t, natsService, time.Second)
	time.Sleep(500 * time.Millisecond)
	last := w.finish()
	if len(w.failed) > 0 || w.errs > 0 {
		t.Fatalf("appends failed with PostgreSQL up: %q", w.sample)
	}
	t.Logf("%d appends; the relay had forwarded up to %s when NATS stopped, the last append is at %s", len(w.acks), before, last)
	if !before.Before(last) {
		t.Fatal("the relay had forwarded everything before NATS stopped: the test did not test anything")
	}

	start := time.Now()
	e.check(t, last)
	stopWatch()
	messages, dups := counting.duplicates()
	t.Logf("consumer caught up %v after the writes ended: %d messages delivered, %d duplicate deliveries absorbed; runner: %s",
		time.Since(start).Round(time.Millisecond), messages, dups, &status)
}

func deleteStream(t *testing.T, name string) {
	conn, err := nc.Connect(natsURL(), nc.Timeout(2*time.Second))
	if err != nil {
		t.Logf("delete stream %s: %v", name, err)
		return
	}
	defer conn.Close()
	if js, err := conn.JetStream(nc.MaxWait(5 * time.Second)); err == nil {
		if err := js.DeleteStream(name); err != nil {
			t.Logf("delete stream %s: %v", name, err)
		}
	}
}
