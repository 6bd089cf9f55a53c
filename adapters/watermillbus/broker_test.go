package watermillbus_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	nc "github.com/nats-io/nats.go"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

func tallyProjection() *projection.Projection { return tally.Projection() }

type pipeline struct {
	opts   *pgstore.Options
	store  *pgstore.Store
	rm     *redisstore.Store
	topic  string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	envelopes atomic.Int64 // batch envelopes the relays published
}

// envelopeCounter counts the batch envelopes published through it.
type envelopeCounter struct {
	message.Publisher
	n *atomic.Int64
}

func (c envelopeCounter) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		if m.Metadata.Get(watermillbus.MetadataBatch) != "" {
			c.n.Add(1)
		}
	}
	return c.Publisher.Publish(topic, msgs...)
}

// newPipeline starts nothing yet: a pgstore in its own schema and a Redis
// read-model store under its own prefix.
func newPipeline(t testing.TB) *pipeline {
	t.Helper()
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	rc, prefix := testenv.Redis(t)
	rm, err := redisstore.New(rc, &redisstore.Options{Prefix: strings.NewReplacer("{", "", "}", "").Replace(prefix) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{opts: opts, store: store, rm: rm, topic: "eventfold_" + strings.ReplaceAll(schema, "-", "_")}
}

// startRelay starts a relay packing up to eventsPerMessage events into
// one message (1: one message per event).
func (p *pipeline) startRelay(t testing.TB, ctx context.Context, name string, pub message.Publisher, eventsPerMessage int) *watermillbus.Relay {
	t.Helper()
	pool := testenv.Pool(t)
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
		Name: name, Store: p.store, Publisher: envelopeCounter{Publisher: pub, n: &p.envelopes}, Topic: p.topic,
		Checkpoints:      pgstore.NewCheckpoints(pool, p.opts),
		Locker:           pgstore.NewLocker(pool, &pgstore.LockOptions{Retry: 50 * time.Millisecond}),
		Poll:             projection.LogOptions{MaxPoll: 20 * time.Millisecond},
		EventsPerMessage: eventsPerMessage,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); relay.Run(ctx) }() //nolint:errcheck
	return relay
}

func (p *pipeline) startRunner(t testing.TB, ctx context.Context, sub message.Subscriber) *projection.Runner {
	t.Helper()
	r, err := projection.NewRunner(projection.Config{Projection: tallyProjection(), Source: watermillbus.NewSource(sub, p.topic, nil), Store: p.rm})
	if err != nil {
		t.Fatal(err)
	}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); r.Run(ctx) }() //nolint:errcheck
	return r
}

// write appends from concurrent writers, including one transaction that
// stays open while others commit (the gap scenario), and returns the last
// position.
func (p *pipeline) write(t *testing.T, writers, appends int) eventstore.Position {
	t.Helper()
	ctx := t.Context()
	pool := testenv.Pool(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inTx, _ := pgstore.New(tx, p.opts)
	if _, err := inTx.Append(ctx, "slow", eventstore.Any, []eventstore.Event{{Type: "Added", Data: []byte(`{"N":1000}`)}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var last eventstore.Position
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < appends; i++ {
				res, err := p.store.Append(ctx, fmt.Sprintf("w-%d", w), eventstore.Any, []eventstore.Event{{Type: "Added", Data: []byte(fmt.Sprintf(`{"N":%d}`, i))}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if last.Before(res.Position) {
					last = res.Position
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond) // the tailers sit behind the open transaction meanwhile
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return last
}

func (p *pipeline) check(t testing.TB, last eventstore.Position) {
	t.Helper()
	tally.Check(t, p.store, p.rm, last)
}

func natsURL() string {
	if u := os.Getenv("EVENTFOLD_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

func amqpURL() string {
	if u := os.Getenv("EVENTFOLD_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

func natsPubSub(t testing.TB, topic string) (message.Publisher, func() message.Subscriber) {
	t.Helper()
	conn, err := nc.Connect(natsURL(), nc.Timeout(2*time.Second))
	if err != nil {
		testenv.Unavailable(t, "NATS", err)
	}
	conn.Close()
	js := wmnats.JetStreamConfig{
		AutoProvision:    true,
		SubscribeOptions: []nc.SubOpt{nc.DeliverAll(), nc.AckExplicit()},
		TrackMsgId:       true,
		DurablePrefix:    topic,
	}
	logger := watermill.NopLogger{}
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: natsURL(), Marshaler: &wmnats.NATSMarshaler{}, JetStream: js}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	t.Cleanup(func() { deleteStream(topic) })
	return pub, func() message.Subscriber {
		sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
			URL: natsURL(), QueueGroupPrefix: topic, SubscribersCount: 1, AckWaitTimeout: 5 * time.Second,
			CloseTimeout: 2 * time.Second, SubscribeTimeout: 5 * time.Second,
			Unmarshaler: &wmnats.NATSMarshaler{}, JetStream: js,
		}, logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Close() })
		return sub
	}
}

func deleteStream(name string) {
	conn, err := nc.Connect(natsURL())
	if err != nil {
		return
	}
	defer conn.Close()
	if js, err := conn.JetStream(); err == nil {
		_ = js.DeleteStream(name)
	}
}

func amqpPubSub(t testing.TB) (message.Publisher, func() message.Subscriber) {
	t.Helper()
	cfg := amqp.NewDurableQueueConfig(amqpURL())
	logger := watermill.NopLogger{}
	pub, err := amqp.NewPublisher(cfg, logger)
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err)
	}
	t.Cleanup(func() { pub.Close() })
	return pub, func() message.Subscriber {
		sub, err := amqp.NewSubscriber(cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Close() })
		return sub
	}
}

// TestThroughBrokers runs the distributed pipeline: the relay publishes
// the PostgreSQL log to a real broker, a projection runner consumes it into
// Redis, and the read model equals a fold of the store, gap scenario
// included; once with one message per event, once with batch envelopes.
func TestThroughBrokers(t *testing.T) {
	for _, broker := range []string{"NATS JetStream", "RabbitMQ"} {
		for _, perMessage := range []int{1, 100} {
			t.Run(fmt.Sprintf("%s/events-per-message=%d", strings.ReplaceAll(broker, " ", ""), perMessage), func(t *testing.T) {
				p := newPipeline(t)
				var pub message.Publisher
				var newSub func() message.Subscriber
				if broker == "RabbitMQ" {
					pub, newSub = amqpPubSub(t)
				} else {
					pub, newSub = natsPubSub(t, p.topic)
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer func() { cancel(); p.wg.Wait() }()
				p.startRelay(t, ctx, "relay", pub, perMessage)
				p.startRunner(t, ctx, newSub())
				last := p.write(t, 6, 20)
				p.check(t, last)
				// The transaction held open by write releases many events at once.
				if n := p.envelopes.Load(); (n > 0) != (perMessage > 1) {
					t.Errorf("the relay published %d envelopes with %d events per message", n, perMessage)
				}
			})
		}
	}
}

// TestRelayTakeover runs two relays for one log: one is active; when it
// stops, the other takes over within seconds from the checkpoint, and the
// consumer still sees every event (duplicates are dropped by position).
// With envelopes, the relay that takes over may pack the events after the
// checkpoint differently, so envelopes overlap.
func TestRelayTakeover(t *testing.T) {
	for _, perMessage := range []int{1, 100} {
		t.Run(fmt.Sprintf("events-per-message=%d", perMessage), func(t *testing.T) {
			p := newPipeline(t)
			pub, newSub := natsPubSub(t, p.topic)
			runCtx, stopAll := context.WithCancel(t.Context())
			defer func() { stopAll(); p.wg.Wait() }()
			ctxA, stopA := context.WithCancel(runCtx)
			a := p.startRelay(t, ctxA, "relay", pub, perMessage)
			testenv.Eventually(t, 10*time.Second, func() bool { active, _ := a.Active(); return active }, "relay A never became active")
			b := p.startRelay(t, runCtx, "relay", pub, perMessage)
			p.startRunner(t, runCtx, newSub())

			first := p.write(t, 4, 10)
			testenv.Eventually(t, 20*time.Second, func() bool { _, pos := a.Active(); return !pos.Before(first) }, "relay A did not forward the first writes")
			if active, _ := b.Active(); active {
				t.Fatal("both relays are active")
			}
			stopA() // relay A dies
			start := time.Now()
			testenv.Eventually(t, 10*time.Second, func() bool { active, _ := b.Active(); return active }, "relay B never took over")
			t.Logf("relay B took over after %v", time.Since(start).Round(time.Millisecond))
			second := p.write(t, 4, 10)
			p.check(t, second)
		})
	}
}

// BenchmarkCatchUpThroughNATS measures how fast a projection runner fed
// through NATS JetStream works off a backlog, with one message per event
// and with batch envelopes. It reports events/s from the relay's start to
// the runner's checkpoint reaching the end of the log:
//
//	go test -run '^$' -bench CatchUpThroughNATS -benchtime 1x ./adapters/watermillbus
func BenchmarkCatchUpThroughNATS(b *testing.B) {
	for _, perMessage := range []int{1, 100} {
		b.Run(fmt.Sprintf("events-per-message=%d", perMessage), func(b *testing.B) {
			const streams = 20
			events := 2000 * b.N
			p := newPipeline(b)
			pub, newSub := natsPubSub(b, p.topic)
			var last eventstore.Position
			for i := 0; i < events; i += 50 {
				batch := make([]eventstore.Event, 50)
				for j := range batch {
					batch[j] = eventstore.Event{Type: "Added", Data: []byte(`{"N":1}`)}
				}
				res, err := p.store.Append(b.Context(), fmt.Sprintf("s-%d", i/50%streams), eventstore.Any, batch)
				if err != nil {
					b.Fatal(err)
				}
				last = res.Position
			}
			ctx, cancel := context.WithCancel(b.Context())
			defer func() { cancel(); p.wg.Wait() }()
			b.ResetTimer()
			start := time.Now()
			p.startRelay(b, ctx, "relay", pub, perMessage)
			r := p.startRunner(b, ctx, newSub())
			for r.Status().Position != last {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("runner at %s after 5 minutes, want %s", r.Status().Position, last)
				}
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
			p.check(b, last)
		})
	}
}
