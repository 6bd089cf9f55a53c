package capacitybench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/natsjs"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/orders"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

const (
	brokerNATS = "NATS JetStream"
	brokerAMQP = "RabbitMQ"
)

// brokers measures a broker node carrying the log, and removes the
// streams and queues it made.
type brokers struct {
	natsURL, amqpURL, prefix string

	n      atomic.Int64
	mu     sync.Mutex
	topics map[string][]string // by broker: streams or queues to delete
}

// check fails unless both brokers answer.
func (b *brokers) check(ctx context.Context) error {
	nc, err := nats.Connect(b.natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("capacitybench: NATS at %s: %w", b.natsURL, err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err == nil {
		_, err = js.AccountInfo(nats.Context(ctx))
	}
	if err != nil {
		return fmt.Errorf("capacitybench: JetStream at %s: %w", b.natsURL, err)
	}
	conn, err := amqp.Dial(b.amqpURL)
	if err != nil {
		return fmt.Errorf("capacitybench: RabbitMQ at %s: %w", b.amqpURL, err)
	}
	return conn.Close()
}

// topic returns a new topic name for broker, to delete at clean-up.
func (b *brokers) topic(broker string) string {
	t := b.prefix + "_" + strconv.FormatInt(b.n.Add(1), 10)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.topics == nil {
		b.topics = map[string][]string{}
	}
	b.topics[broker] = append(b.topics[broker], t)
	return t
}

// cleanUp deletes every stream and queue the scenario made.
func (b *brokers) cleanUp(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	if names := b.topics[brokerNATS]; len(names) > 0 {
		nc, err := nats.Connect(b.natsURL)
		if err == nil {
			js, _ := nc.JetStream()
			for _, n := range names {
				if err := js.DeleteStream(n); err != nil && !errors.Is(err, nats.ErrStreamNotFound) {
					errs = append(errs, fmt.Errorf("capacitybench: delete stream %s: %w", n, err))
				}
			}
			nc.Close()
		} else {
			errs = append(errs, err)
		}
	}
	if names := b.topics[brokerAMQP]; len(names) > 0 {
		conn, err := amqp.Dial(b.amqpURL)
		if err == nil {
			ch, err := conn.Channel()
			if err == nil {
				for _, n := range names {
					if _, err := ch.QueueDelete(n, false, false, false); err != nil {
						errs = append(errs, fmt.Errorf("capacitybench: delete queue %s: %w", n, err))
						break // the channel is closed after an error
					}
				}
			}
			errs = append(errs, err, conn.Close())
		} else {
			errs = append(errs, err)
		}
	}
	b.topics = nil
	return errors.Join(errs...)
}

// cell measures one broker node carrying events through eventfold's path
// and through the broker's raw client.
func (b *brokers) cell(broker string, perMessage, events int) harness.Cell {
	client := "watermill-nats"
	raw := "raw nats.go (async publish, pull consumer)"
	if broker == brokerAMQP {
		client = "watermill-amqp"
		raw = "raw amqp091-go (confirms, prefetch 500)"
	}
	return harness.Cell{
		Name: fmt.Sprintf("%s node, %d event(s) per message, %d events", broker, perMessage, events),
		Unit: "events",
		Eventfold: &harness.Contender{Name: "Relay → " + client + " → Source", Run: func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
			return b.throughEventfold(ctx, budget, broker, perMessage, events)
		}},
		Baselines: []harness.Contender{{Name: raw, Run: func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
			return b.throughRaw(ctx, budget, broker, perMessage, events)
		}}},
	}
}

// fill appends events ItemAdded events (the size of the append
// scenarios') to an in-memory log, so the broker, not PostgreSQL, is what
// is measured.
func fill(ctx context.Context, events int) (*memstore.Store, error) {
	store := memstore.New(nil)
	data := []byte(`{"order_id":"0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d30","sku":"SKU-000123","quantity":3,"unit_price_cents":1999,"currency":"EUR","note":"` +
		strings.Repeat("x", 70) + `"}`)
	meta := eventstore.Metadata{CorrelationID: "0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2e", CausationID: "0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2f"}
	for i := 0; i < events; i += 100 {
		batch := make([]eventstore.Event, min(100, events-i))
		for j := range batch {
			batch[j] = eventstore.Event{Type: orders.EventType, Data: data, Metadata: meta}
		}
		if _, err := store.Append(ctx, "order-"+strconv.Itoa(i/100%1000), eventstore.Any, batch); err != nil {
			return nil, err
		}
	}
	return store, nil
}

// watermill returns the publisher and subscriber of topic as eventfold's
// deployments configure them (docs/operations.md): NATS with TrackMsgId
// and a durable consumer made up front; RabbitMQ with a durable queue,
// persistent messages and publisher confirms.
func (b *brokers) watermill(ctx context.Context, broker, topic string) (message.Publisher, message.Subscriber, error) {
	logger := watermill.NopLogger{}
	if broker == brokerAMQP {
		cfg := wmamqp.NewDurableQueueConfig(b.amqpURL)
		cfg.Publish.ConfirmDelivery = true
		pub, err := wmamqp.NewPublisher(cfg, logger)
		if err != nil {
			return nil, nil, err
		}
		sub, err := wmamqp.NewSubscriber(cfg, logger)
		if err == nil {
			err = sub.SubscribeInitialize(topic)
		}
		if err != nil {
			return nil, nil, errors.Join(err, pub.Close())
		}
		return pub, sub, nil
	}
	c := natsjs.Consumer{Stream: topic, Subject: topic, Durable: topic, QueueGroup: topic, AckWait: 30 * time.Second}
	nc, err := nats.Connect(b.natsURL)
	if err != nil {
		return nil, nil, err
	}
	js, err := nc.JetStream()
	if err == nil {
		_, err = natsjs.EnsureConsumer(ctx, js, c)
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(nc, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler: &wmnats.NATSMarshaler{}, QueueGroupPrefix: c.QueueGroup, AckWaitTimeout: c.AckWait, CloseTimeout: time.Second,
		JetStream: wmnats.JetStreamConfig{DurablePrefix: c.Durable, SubscribeOptions: c.SubscribeOptions()},
	}, logger)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL: b.natsURL, Marshaler: &wmnats.NATSMarshaler{}, JetStream: wmnats.JetStreamConfig{TrackMsgId: true},
	}, logger)
	if err != nil {
		return nil, nil, errors.Join(err, sub.Close())
	}
	return pub, sub, nil
}

// throughEventfold times a Relay publishing a log of events and a Source
// reading them back, committing each batch it returns as a Runner does,
// until the last event is committed.
func (b *brokers) throughEventfold(ctx context.Context, budget harness.Budget, broker string, perMessage, events int) (harness.Sample, error) {
	store, err := fill(ctx, events)
	if err != nil {
		return harness.Sample{}, err
	}
	topic := b.topic(broker)
	pub, sub, err := b.watermill(ctx, broker, topic)
	if err != nil {
		return harness.Sample{}, fmt.Errorf("capacitybench: %s: %w", broker, err)
	}
	defer func() { _ = sub.Close(); _ = pub.Close() }()
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
		Store: store, Publisher: pub, Topic: topic, Checkpoints: memstore.NewCheckpoints(),
		EventsPerMessage: perMessage, Poll: projection.LogOptions{MaxPoll: 20 * time.Millisecond},
	})
	if err != nil {
		return harness.Sample{}, err
	}
	head, err := store.Head(ctx)
	if err != nil {
		return harness.Sample{}, err
	}
	var published time.Duration // when the relay had published the last event
	sample, err := harness.Once(ctx, budget, int64(events), func(ctx context.Context) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout(events))
		defer cancel()
		start := time.Now()
		feed, err := watermillbus.NewSource(sub, topic, nil).Open(ctx, eventstore.Position{})
		if err != nil {
			return 0, err
		}
		defer feed.Close()
		done := make(chan struct{})
		go func() { defer close(done); _ = relay.Run(ctx) }()
		defer func() { cancel(); <-done }()
		for got := 0; got < events; {
			recs, err := feed.Next(ctx, batchSize)
			if err != nil {
				return 0, fmt.Errorf("capacitybench: %s: after %d of %d events: %w", broker, got, events, err)
			}
			if len(recs) == 0 {
				continue
			}
			got += len(recs)
			if err := feed.Commit(ctx, recs[len(recs)-1].Position); err != nil {
				return 0, err
			}
			if _, pos := relay.Active(); published == 0 && pos == head {
				published = time.Since(start)
			}
		}
		took := time.Since(start)
		if published == 0 {
			published = took
		}
		return took, nil
	})
	if err == nil {
		sample.Extra["relay done publishing s"] = published.Seconds()
	}
	return sample, err
}

// timeout bounds one pass of events through a broker: generous, as the
// slowest path moves about a thousand events a second on a busy machine.
func timeout(events int) time.Duration {
	return time.Minute + time.Duration(events)*5*time.Millisecond
}

// rawPayload is what the raw clients send per message: the bytes of the
// message eventfold's relay sends (one event, or an envelope of
// perMessage events).
func rawPayload(ctx context.Context, perMessage int) ([]byte, error) {
	store, err := fill(ctx, perMessage)
	if err != nil {
		return nil, err
	}
	recs, err := store.ReadAll(ctx, eventstore.Position{}, perMessage)
	if err != nil {
		return nil, err
	}
	if perMessage == 1 {
		return watermillbus.NewMessage(recs[0], eventstore.Position{}).Payload, nil
	}
	return watermillbus.NewBatchMessage(recs, eventstore.Position{}).Payload, nil
}

// throughRaw times the broker's own client publishing events/perMessage
// messages of the relay's size in rounds of batchSize messages (waiting
// for the broker's confirmation of each round, as the relay does) while a
// consumer reads and acknowledges them.
func (b *brokers) throughRaw(ctx context.Context, budget harness.Budget, broker string, perMessage, events int) (harness.Sample, error) {
	payload, err := rawPayload(ctx, perMessage)
	if err != nil {
		return harness.Sample{}, err
	}
	msgs := events / perMessage
	topic := b.topic(broker)
	pass := b.rawNATS
	if broker == brokerAMQP {
		pass = b.rawAMQP
	}
	return harness.Once(ctx, budget, int64(msgs*perMessage), func(ctx context.Context) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout(events))
		defer cancel()
		return pass(ctx, topic, payload, msgs)
	})
}
