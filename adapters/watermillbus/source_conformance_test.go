package watermillbus_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
)

// relayPoll keeps the relays of these tests quick to notice appends.
var relayPoll = projection.LogOptions{MaxPoll: 5 * time.Millisecond}

// A Source over one gochannel fed by one relay. gochannel keeps nothing for
// a topic without subscribers and drops what a closed subscriber did not
// ack, so a feed sees only the events published while it is open:
// LiveOnly. Each message waits for the subscriber's ack before the next is
// published (BlockPublishUntilSubscriberAck), which keeps the topic in
// order; without it gochannel sends every message from its own goroutine.
func TestSourceConformanceGoChannelLive(t *testing.T) {
	projectiontest.RunSource(t, projectiontest.SourceConfig{
		LiveOnly: true,
		New: func(t testing.TB) (eventstore.Store, projection.Source) {
			store := memstore.New(nil)
			pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
			runRelay(t, store, pubsub, "events")
			t.Cleanup(func() { pubsub.Close() }) //nolint:errcheck // in-process, nothing to report
			return store, watermillbus.NewSource(pubsub, "events", nil)
		},
	})
}

// A Source over a subscriber that, like a broker stream read from its
// start by a new consumer, replays the whole log to every subscription: a
// fresh gochannel and relay per Subscribe. The feed receives events at or
// before the position it was opened after, and again those it handed out
// but did not commit before it was closed: Redelivers.
func TestSourceConformanceReplayedLog(t *testing.T) {
	projectiontest.RunSource(t, projectiontest.SourceConfig{
		Redelivers: true,
		New: func(t testing.TB) (eventstore.Store, projection.Source) {
			store := memstore.New(nil)
			return store, watermillbus.NewSource(&replayingSubscriber{t: t, store: store}, "events", nil)
		},
	})
}

// runRelay runs a relay forwarding store to pub on topic until the test
// ends.
func runRelay(t testing.TB, store eventstore.Store, pub message.Publisher, topic string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(relayUntil(t, ctx, cancel, store, pub, topic))
}

func relayUntil(t testing.TB, ctx context.Context, cancel context.CancelFunc, store eventstore.Store, pub message.Publisher, topic string) (stop func()) {
	t.Helper()
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{Store: store, Publisher: pub, Topic: topic,
		Checkpoints: &memCheckpoints{pos: map[string]eventstore.Position{}}, Poll: relayPoll})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); relay.Run(ctx) }() //nolint:errcheck // ends with ctx
	return func() { cancel(); <-done }
}

// replayingSubscriber gives every subscription its own gochannel, fed from
// the start of the log by its own relay until the subscription ends.
type replayingSubscriber struct {
	t     testing.TB
	store eventstore.Store
	wg    sync.WaitGroup
	once  sync.Once
}

func (s *replayingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.once.Do(func() { s.t.Cleanup(s.wg.Wait) })
	pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	msgs, err := pubsub.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	relayCtx, cancel := context.WithCancel(ctx)
	stop := relayUntil(s.t, relayCtx, cancel, s.store, pubsub, topic)
	s.wg.Go(func() {
		<-ctx.Done()
		stop()
		pubsub.Close() //nolint:errcheck // in-process, nothing to report
	})
	return msgs, nil
}

func (s *replayingSubscriber) Close() error { return nil }

// A Source over NATS JetStream fed by a relay. Every subscription makes
// its own consumer, which delivers the stream from its start (see
// TestNATSReopenReplaysWithLibraryConsumer): Redelivers.
func TestSourceConformanceNATS(t *testing.T) {
	projectiontest.RunSource(t, projectiontest.SourceConfig{
		Redelivers: true,
		New: func(t testing.TB) (eventstore.Store, projection.Source) {
			store := memstore.New(nil)
			topic := "eventfold_sourcesuite_" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + fmt.Sprint(time.Now().UnixNano())
			pub, newSub := natsPubSub(t, topic)
			runRelay(t, store, pub, topic)
			return store, watermillbus.NewSource(newSub(), topic, nil)
		},
	})
}
