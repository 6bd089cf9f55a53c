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

// flow is what one broker cell carries: events, packed perMessage to a
// message, to consumers projections that each read all of them.
type flow struct {
	broker                        string
	perMessage, events, consumers int
}

// cell measures one broker node carrying a flow through eventfold's path
// and through the broker's raw client. The unit is an event delivered to
// one consumer.
func (b *brokers) cell(f flow) harness.Cell {
	client := "watermill-nats"
	raw := "raw nats.go (async publish, pull consumer)"
	if f.broker == brokerAMQP {
		client = "watermill-amqp"
		raw = "raw amqp091-go (confirms, prefetch 500)"
	}
	name := fmt.Sprintf("%s node, %d event(s) per message, %d events", f.broker, f.perMessage, f.events)
	if f.consumers > 1 {
		name += fmt.Sprintf(" to %d consumers", f.consumers)
	}
	return harness.Cell{
		Name: name,
		Unit: "events",
		Eventfold: &harness.Contender{Name: "Relay → " + client + " → Source", Run: func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
			return b.throughEventfold(ctx, budget, f)
		}},
		Baselines: []harness.Contender{{Name: raw, Run: func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
			return b.throughRaw(ctx, budget, f)
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

// watermill returns the publisher of topic and a subscriber for each of
// consumers projections, as eventfold's deployments configure them
// (docs/operations.md): NATS with TrackMsgId and a durable consumer per
// projection made up front; RabbitMQ (one consumer only) with a durable
// queue, persistent messages and publisher confirms.
func (b *brokers) watermill(ctx context.Context, broker, topic string, consumers int) (message.Publisher, []message.Subscriber, error) {
	logger := watermill.NopLogger{}
	if broker == brokerAMQP {
		if consumers != 1 {
			return nil, nil, errors.New("capacitybench: RabbitMQ cells have one consumer")
		}
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
		return pub, []message.Subscriber{sub}, nil
	}
	var subs []message.Subscriber
	closeAll := func() {
		for _, s := range subs {
			_ = s.Close()
		}
	}
	for k := range consumers {
		sub, err := b.natsSubscriber(ctx, topic, topic+"_"+strconv.Itoa(k))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		subs = append(subs, sub)
	}
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL: b.natsURL, Marshaler: &wmnats.NATSMarshaler{}, JetStream: wmnats.JetStreamConfig{TrackMsgId: true},
	}, logger)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return pub, subs, nil
}

// natsSubscriber returns a subscriber bound to the durable consumer of
// its own that it makes first, as examples/bank does.
func (b *brokers) natsSubscriber(ctx context.Context, topic, durable string) (message.Subscriber, error) {
	c := natsjs.Consumer{Stream: topic, Subject: topic, Durable: durable, QueueGroup: durable, AckWait: 30 * time.Second}
	nc, err := nats.Connect(b.natsURL)
	if err != nil {
		return nil, err
	}
	js, err := nc.JetStream()
	if err == nil {
		_, err = natsjs.EnsureConsumer(ctx, js, c)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(nc, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler: &wmnats.NATSMarshaler{}, QueueGroupPrefix: c.QueueGroup, AckWaitTimeout: c.AckWait, CloseTimeout: time.Second,
		JetStream: wmnats.JetStreamConfig{DurablePrefix: c.Durable, SubscribeOptions: c.SubscribeOptions()},
	}, watermill.NopLogger{})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return sub, nil
}

// throughEventfold times a Relay publishing a log of events and a Source
// per consumer reading them back, committing each batch it returns as a
// Runner does, until every consumer has committed the last event.
func (b *brokers) throughEventfold(ctx context.Context, budget harness.Budget, f flow) (harness.Sample, error) {
	store, err := fill(ctx, f.events)
	if err != nil {
		return harness.Sample{}, err
	}
	topic := b.topic(f.broker)
	pub, subs, err := b.watermill(ctx, f.broker, topic, f.consumers)
	if err != nil {
		return harness.Sample{}, fmt.Errorf("capacitybench: %s: %w", f.broker, err)
	}
	defer func() {
		for _, s := range subs {
			_ = s.Close()
		}
		_ = pub.Close()
	}()
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
		Store: store, Publisher: pub, Topic: topic, Checkpoints: memstore.NewCheckpoints(),
		EventsPerMessage: f.perMessage, Poll: projection.LogOptions{MaxPoll: 20 * time.Millisecond},
	})
	if err != nil {
		return harness.Sample{}, err
	}
	head, err := store.Head(ctx)
	if err != nil {
		return harness.Sample{}, err
	}
	var published time.Duration // when the relay had published the last event
	sample, err := harness.Once(ctx, budget, int64(f.events*f.consumers), func(ctx context.Context) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout(f.events*f.consumers))
		defer cancel()
		start := time.Now()
		done := make(chan struct{})
		go func() { defer close(done); _ = relay.Run(ctx) }()
		defer func() { cancel(); <-done }()
		var publishedAt atomic.Int64
		go func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if _, pos := relay.Active(); pos == head {
					publishedAt.Store(int64(time.Since(start)))
					return
				}
			}
		}()
		errs := make(chan error, len(subs))
		for _, sub := range subs {
			go func() { errs <- consume(ctx, sub, topic, f.events) }()
		}
		for range subs {
			if err := <-errs; err != nil {
				return 0, fmt.Errorf("capacitybench: %s: %w", f.broker, err)
			}
		}
		took := time.Since(start)
		published = time.Duration(publishedAt.Load())
		if published == 0 || published > took {
			published = took
		}
		return took, nil
	})
	if err == nil {
		sample.Extra["relay done publishing s"] = published.Seconds()
	}
	return sample, err
}

// consume reads events from topic through a Source, committing each batch,
// until it has them all.
func consume(ctx context.Context, sub message.Subscriber, topic string, events int) error {
	feed, err := watermillbus.NewSource(sub, topic, nil).Open(ctx, eventstore.Position{})
	if err != nil {
		return err
	}
	defer feed.Close()
	for got := 0; got < events; {
		recs, err := feed.Next(ctx, batchSize)
		if err != nil {
			return fmt.Errorf("after %d of %d events: %w", got, events, err)
		}
		if len(recs) == 0 {
			continue
		}
		got += len(recs)
		if err := feed.Commit(ctx, recs[len(recs)-1].Position); err != nil {
			return err
		}
	}
	return nil
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

// throughRaw times the broker's own client publishing the flow's
// messages, of the relay's size, in rounds of batchSize (waiting for the
// broker's confirmation of each round, as the relay does) while each
// consumer reads and acknowledges all of them.
func (b *brokers) throughRaw(ctx context.Context, budget harness.Budget, f flow) (harness.Sample, error) {
	payload, err := rawPayload(ctx, f.perMessage)
	if err != nil {
		return harness.Sample{}, err
	}
	msgs := f.events / f.perMessage
	topic := b.topic(f.broker)
	return harness.Once(ctx, budget, int64(msgs*f.perMessage*f.consumers), func(ctx context.Context) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout(f.events*f.consumers))
		defer cancel()
		if f.broker == brokerAMQP {
			return b.rawAMQP(ctx, topic, payload, msgs)
		}
		return b.rawNATS(ctx, topic, payload, msgs, f.consumers)
	})
}
