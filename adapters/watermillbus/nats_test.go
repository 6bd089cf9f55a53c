package watermillbus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	nc "github.com/nats-io/nats.go"

	"github.com/eventfold/eventfold/adapters/natsjs"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// deliveryCounter passes a subscriber's messages through and counts them.
type deliveryCounter struct {
	message.Subscriber
	n atomic.Int64
}

func (c *deliveryCounter) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := c.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for msg := range in {
			c.n.Add(1)
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

// logPos is the position of the i-th event of the test log (from 1).
func logPos(i int) eventstore.Position { return eventstore.Position{Commit: uint64(i), Sequence: 1} }

// publishLog publishes events from..to of a test log, each chained to the
// one before, as the relay does.
func publishLog(t *testing.T, pub message.Publisher, topic string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		rec := eventstore.Record{ID: fmt.Sprintf("%s-%d", topic, i), StreamID: "s", Type: "Added", Data: []byte(`{"N":1}`),
			Version: int64(i), Position: logPos(i), RecordedAt: time.Now()}
		var prev eventstore.Position
		if i > 1 {
			prev = logPos(i - 1)
		}
		if err := pub.Publish(topic, watermillbus.NewMessage(rec, prev)); err != nil {
			t.Fatal(err)
		}
	}
}

// consume opens src after pos, reads until the event at want, commits each
// batch, and closes the feed. It returns the last position committed, and
// the feed's error if the feed fails first.
func consume(t *testing.T, src projection.Source, after eventstore.Position, want int) (eventstore.Position, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	feed, err := src.Open(ctx, after)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	last := after
	for last.Before(logPos(want)) {
		recs, err := feed.Next(ctx, 10)
		if err != nil {
			return last, err
		}
		for _, r := range recs {
			if r.Position != logPos(int(last.Commit)+1) {
				t.Fatalf("record at %s after %s", r.Position, last)
			}
			last = r.Position
		}
		if len(recs) > 0 {
			if err := feed.Commit(ctx, last); err != nil {
				t.Fatal(err)
			}
		}
	}
	return last, nil
}

// natsJetStream connects to NATS for the test, failing under CI=true when
// it is not running.
func natsJetStream(t *testing.T) nc.JetStreamContext {
	t.Helper()
	conn, err := nc.Connect(natsURL(), nc.Timeout(2*time.Second))
	if err != nil {
		testenv.Unavailable(t, "NATS", err)
	}
	t.Cleanup(conn.Close)
	js, err := conn.JetStream(nc.MaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func natsTopic(t *testing.T) string {
	return "eventfold_reopen_" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + fmt.Sprint(time.Now().UnixNano())
}

// TestNATSReopenReplaysWithLibraryConsumer shows why the durable consumer
// must be created up front: when nats.go creates it at subscribe, it also
// deletes it when the subscription ends, so every reopen of the Source
// starts a new consumer that delivers the whole stream again. The Source
// drops the duplicates, so the result is right, but a restart after a
// million events reads a million messages.
func TestNATSReopenReplaysWithLibraryConsumer(t *testing.T) {
	natsJetStream(t)
	topic := natsTopic(t)
	pub, newSub := natsPubSub(t, topic)
	counter := &deliveryCounter{Subscriber: newSub()}
	src := watermillbus.NewSource(counter, topic, nil)
	const n, m = 30, 5

	publishLog(t, pub, topic, 1, n)
	if _, err := consume(t, src, eventstore.Position{}, n); err != nil {
		t.Fatal(err)
	}
	publishLog(t, pub, topic, n+1, n+m)
	before := counter.n.Load()
	if _, err := consume(t, src, logPos(n), n+m); err != nil {
		t.Fatal(err)
	}
	got := counter.n.Load() - before
	t.Logf("the reopened subscription delivered %d messages for %d new events after %d", got, m, n)
	if got < n+m {
		t.Errorf("the reopened subscription delivered %d messages; want the whole stream again (%d): nats.go no longer deletes the consumer it created, update docs/operations.md", got, n+m)
	}
}

// keptConsumerSub returns a subscriber bound to a durable consumer made up
// front with natsjs.EnsureConsumer, as docs/operations.md recommends.
//
// The tests that close a feed with messages in flight allow one unacked
// message at a time: watermill-nats v2.1.3 can panic ("send on closed
// channel") when a subscription ends while nats.go holds further messages
// for it, a race of its own that these tests are not about.
func keptConsumerSub(t *testing.T, js nc.JetStreamContext, topic string, ackWait, wmAckWait time.Duration, maxAckPending int) message.Subscriber {
	t.Helper()
	c := natsjs.Consumer{Stream: topic, Subject: topic, Durable: topic + "_tally", QueueGroup: topic + "_tally",
		AckWait: ackWait, MaxAckPending: maxAckPending}
	if _, err := natsjs.EnsureConsumer(t.Context(), js, c); err != nil {
		t.Fatal(err)
	}
	sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL: natsURL(), QueueGroupPrefix: c.QueueGroup, AckWaitTimeout: wmAckWait,
		CloseTimeout: 2 * time.Second, SubscribeTimeout: 5 * time.Second, Unmarshaler: &wmnats.NATSMarshaler{},
		JetStream: wmnats.JetStreamConfig{AutoProvision: true, DurablePrefix: c.Durable, SubscribeOptions: c.SubscribeOptions()},
	}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// TestNATSReopenResumesWithDurableConsumer closes and reopens a Source
// whose consumer was made up front: the consumer outlives the subscription,
// so the reopened one delivers only the events published since, not the
// stream again.
func TestNATSReopenResumesWithDurableConsumer(t *testing.T) {
	js := natsJetStream(t)
	topic := natsTopic(t)
	pub, _ := natsPubSub(t, topic)
	counter := &deliveryCounter{Subscriber: keptConsumerSub(t, js, topic, 0, 5*time.Second, 0)}
	src := watermillbus.NewSource(counter, topic, nil)
	const n, m = 200, 5

	publishLog(t, pub, topic, 1, n)
	if _, err := consume(t, src, eventstore.Position{}, n); err != nil {
		t.Fatal(err)
	}
	// A message published while the subscription is still being torn down
	// would be taken and dropped by it, and come again only after AckWait.
	testenv.Eventually(t, 5*time.Second, func() bool {
		info, err := js.ConsumerInfo(topic, topic+"_tally")
		return err == nil && !info.PushBound
	}, "the closed subscription stays bound to the consumer")
	publishLog(t, pub, topic, n+1, n+m)
	before := counter.n.Load()
	if _, err := consume(t, src, logPos(n), n+m); err != nil {
		t.Fatal(err)
	}
	got := counter.n.Load() - before
	t.Logf("the reopened subscription delivered %d messages for %d new events after %d", got, m, n)
	// An ack still on its way when the first feed closed may be lost; that
	// message comes again after the consumer's AckWait, not at the reopen.
	if got < m || got > m+2 {
		t.Errorf("the reopened subscription delivered %d messages; want the %d published since it closed", got, m)
	}
}

// TestNATSReopenMidStreamWithDurableConsumer closes the feed while
// messages are in flight (delivered to the subscriber, not committed), as a
// runner's restart or fault recovery does, and reopens from the last
// commit, as the runner does, until every event has arrived: the messages
// that were in flight come again (after the consumer's AckWait) and the
// feed resumes without a gap and without applying an event twice.
func TestNATSReopenMidStreamWithDurableConsumer(t *testing.T) {
	js := natsJetStream(t)
	topic := natsTopic(t)
	pub, _ := natsPubSub(t, topic)
	const ackWait = time.Second
	src := watermillbus.NewSource(keptConsumerSub(t, js, topic, ackWait, 5*time.Second, 1), topic, nil)
	const n = 100

	publishLog(t, pub, topic, 1, n)
	last, err := consume(t, src, eventstore.Position{}, 50) // leaves the rest in flight
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, src, last, n)
}

// catchUp reopens src from the last commit, as a projection runner does
// after a gap, until the event at want has arrived.
func catchUp(t *testing.T, src projection.Source, last eventstore.Position, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	reopens, backoff := 0, 20*time.Millisecond
	for last.Before(logPos(want)) {
		if time.Now().After(deadline) {
			t.Fatalf("stuck at %s after %d reopens", last, reopens)
		}
		if reopens++; reopens > 1 {
			time.Sleep(backoff) // the runner's backoff
			backoff = min(2*backoff, time.Second)
		}
		var err error
		last, err = consume(t, src, last, want)
		if err != nil && !errors.Is(err, watermillbus.ErrGap) {
			t.Fatal(err)
		}
	}
	t.Logf("caught up after %d reopens", reopens)
}

// TestNATSUncommittedMessagesComeBack holds messages longer than the
// subscriber's AckWaitTimeout without committing them (a slow batch) and
// then closes the feed as a crash would. With a consumer that outlives the
// subscription, those messages must still count as unacknowledged: they
// come again after the consumer's AckWait and the feed resumes. (nats.go
// acknowledges them itself when watermill-nats gives up waiting, unless
// the subscription uses ManualAck; then the reopened feed would find them
// missing and refuse the rest as a gap for ever.)
func TestNATSUncommittedMessagesComeBack(t *testing.T) {
	js := natsJetStream(t)
	topic := natsTopic(t)
	pub, _ := natsPubSub(t, topic)
	const wmAckWait = 200 * time.Millisecond
	src := watermillbus.NewSource(keptConsumerSub(t, js, topic, time.Second, wmAckWait, 1), topic, nil)
	const n = 20
	publishLog(t, pub, topic, 1, n)

	ctx := t.Context()
	feed, err := src.Open(ctx, eventstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	var held []eventstore.Record
	for len(held) == 0 {
		if held, err = feed.Next(ctx, 5); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * wmAckWait) // watermill-nats stops waiting for the ack
	feed.Close()              // never committed
	publishLog(t, pub, topic, n+1, n+5)
	catchUp(t, src, eventstore.Position{}, n+5)
}
