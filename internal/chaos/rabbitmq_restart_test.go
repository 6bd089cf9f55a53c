//go:build !race

// The race detector reports data races inside watermill-amqp (v3.0.2)
// whenever its connection is lost: ConnectionWrapper replaces its
// "connected" channel in its reconnect goroutine while Publish and the
// subscriber's loop read it, without synchronization. A race-enabled test
// binary fails on them, so this test is built without -race; `make chaos`
// runs it in a second, race-free go test.

package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
	"github.com/eventfold/eventfold/readmodel"
)

// deleteQueue removes the test's queue, whatever it holds.
func deleteQueue(t *testing.T, name string) {
	conn, err := amqp091.DialConfig(amqpURL(), amqp091.Config{Dial: amqp091.DefaultDial(2 * time.Second)})
	if err != nil {
		t.Logf("delete queue %s: %v", name, err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err == nil {
		_, err = ch.QueueDelete(name, false, false, false)
	}
	if err != nil {
		t.Logf("delete queue %s: %v", name, err)
	}
}

// streamOrder is one stream as a consumer saw it: how many events it
// applied, the last version, and every version that did not follow the
// one applied before it (a duplicate applied, an event skipped or
// reordered).
type streamOrder struct {
	Count      int     `json:"count"`
	Version    int64   `json:"version"`
	OutOfOrder []int64 `json:"out_of_order,omitempty"`
}

const orderName = "stream_order"

var orderModel = readmodel.Model[streamOrder]{}

func (s *streamOrder) apply(rec eventstore.Record) {
	if rec.Version != s.Version+1 {
		s.OutOfOrder = append(s.OutOfOrder, rec.Version)
	}
	s.Count++
	s.Version = rec.Version
}

func orderProjection() *projection.Projection {
	p := projection.New(orderName, "1", nil)
	p.On("Added", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		s, _, err := projection.Load(ctx, tx, orderModel, rec.StreamID)
		if err != nil {
			return err
		}
		s.apply(rec)
		return projection.Store(tx, orderModel, rec.StreamID, s)
	})
	return p
}

// countingSource counts what the feeds of a Source hand to the runner: the
// records, and the errors, each of which refused one message (a gap or an
// undecodable message).
type countingSource struct {
	projection.Source

	mu     sync.Mutex
	handed int
	errs   map[string]int
}

func (s *countingSource) Open(ctx context.Context, after eventstore.Position) (projection.Feed, error) {
	f, err := s.Source.Open(ctx, after)
	if err != nil {
		return nil, err
	}
	return &countingFeed{Feed: f, src: s}, nil
}

type countingFeed struct {
	projection.Feed
	src *countingSource
}

func (f *countingFeed) Next(ctx context.Context, max int) ([]eventstore.Record, error) {
	recs, err := f.Feed.Next(ctx, max)
	f.src.mu.Lock()
	defer f.src.mu.Unlock()
	f.src.handed += len(recs)
	if err != nil && ctx.Err() == nil {
		kind := "other"
		if errors.Is(err, watermillbus.ErrGap) {
			kind = "gap"
		}
		f.src.errs[kind]++
	}
	return recs, err
}

// warnCounter is a slog handler that counts warnings and keeps the first.
type warnCounter struct {
	mu    sync.Mutex
	n     int
	first string
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnCounter) WithGroup(string) slog.Handler                { return w }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		w.first = r.Message
		r.Attrs(func(a slog.Attr) bool { w.first += " " + a.String(); return true })
	}
	w.n++
	return nil
}

// TestRabbitMQRestart restarts RabbitMQ (the application on its running
// node: connections close, queue processes end and recover from disk)
// while writers append, the relay forwards the log to a durable queue with
// publisher confirms, and a runner consumes it through
// watermillbus.NewSource. Clients reconnect, the relay publishes again
// from its checkpoint, and the consistency checker finds every
// acknowledged event applied once, in stream order; the redelivered and
// republished duplicates the consumer received are counted and were
// dropped by the Source's position guard.
func TestRabbitMQRestart(t *testing.T) {
	requireChaos(t)
	e := setup(t)
	queue := "eventfold_chaos_" + strings.TrimPrefix(e.opts.Schema, "t_")

	// The durable config: a durable queue named after the topic, fed
	// through the default exchange, messages persistent.
	cfg := wmamqp.NewDurableQueueConfig(amqpURL())
	// Without confirms Publish returns once the message is written to the
	// socket: the relay would save its checkpoint past messages the broker
	// lost in the restart, and the consumer would wait at the gap forever.
	cfg.Publish.ConfirmDelivery = true
	cfg.Connection.Reconnect = &wmamqp.ReconnectConfig{BackoffInitialInterval: 100 * time.Millisecond,
		BackoffRandomizationFactor: 0.2, BackoffMultiplier: 1.5, BackoffMaxInterval: time.Second}
	logger := watermill.NopLogger{}
	pub, err := wmamqp.NewPublisher(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	sub, err := wmamqp.NewSubscriber(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	t.Cleanup(func() { deleteQueue(t, queue) })
	// The default exchange drops a message whose queue does not exist yet:
	// declare it before the relay publishes.
	if err := sub.SubscribeInitialize(queue); err != nil {
		t.Fatal(err)
	}
	counting := &countingSubscriber{Subscriber: sub, deliveries: map[string]int{}}

	relayWarns := &warnCounter{}
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
		Store: e.store, Publisher: pub, Topic: queue, Checkpoints: pgstore.NewCheckpoints(e.pool, e.opts),
		Poll: projection.LogOptions{MaxPoll: 20 * time.Millisecond}, Logger: slog.New(relayWarns),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); relay.Run(ctx) }() //nolint:errcheck
	t.Cleanup(func() { cancel(); <-relayDone })
	src := &countingSource{Source: watermillbus.NewSource(counting, queue, nil), errs: map[string]int{}}
	rn := startProjection(t, orderProjection(), src, e.rm, 100)
	var status statusLog
	wctx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	go status.watch(wctx, rn, 10*time.Millisecond)

	w := startWriters(e.store, 4, 1000, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	_, before := relay.Active()
	restartService(t, rabbitService, time.Second)
	time.Sleep(500 * time.Millisecond)
	last := w.finish()
	if len(w.failed) > 0 || w.errs > 0 {
		t.Fatalf("appends failed with PostgreSQL up: %q", w.sample)
	}
	relayWarns.mu.Lock()
	interruptions, firstWarn := relayWarns.n, relayWarns.first
	relayWarns.mu.Unlock()
	t.Logf("%d appends; the relay had forwarded up to %s before RabbitMQ stopped, the last append is at %s; the relay was interrupted %d times (first: %s)",
		len(w.acks), before, last, interruptions, firstWarn)
	if !before.Before(last) || interruptions == 0 {
		t.Fatal("the relay forwarded everything without an error: the test did not test anything")
	}

	start := time.Now()
	wait, cancelWait := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancelWait()
	if err := projection.WaitFor(wait, e.rm, orderName, "", last); err != nil {
		t.Fatalf("the consumer did not apply the last append (%s): %v; runner: %s", last, err, &status)
	}
	caughtUp := time.Since(start)
	stopWatch()

	// Every acknowledged append is in the log once, where it was
	// acknowledged; the read model is the fold of the log in order.
	acked := make([]projectiontest.Ack, len(w.acks))
	for i, a := range w.acks {
		acked[i] = projectiontest.AckOf(a.stream, a.res, a.events)
	}
	log := projectiontest.CheckLog(t, e.store, acked)
	projectiontest.CheckReadModel(t, e.store, e.rm, orderName, "", orderModel, func(docs map[string]streamOrder, rec eventstore.Record) error {
		var ev struct{ N int }
		if err := json.Unmarshal(rec.Data, &ev); err != nil {
			return err
		}
		s := docs[rec.StreamID]
		s.apply(rec)
		docs[rec.StreamID] = s
		return nil
	})

	// Every event reached the consumer. Of the messages it received, the
	// Source handed some to the runner, refused some (a gap or a bad
	// message: the error the runner saw nacked exactly one each) and
	// dropped the rest, the duplicates, by position. The read model shows
	// each event applied once, so the runner skipped or rolled back any
	// record handed to it twice.
	counting.mu.Lock()
	missing, delivered := 0, 0
	for _, r := range log {
		if counting.deliveries[r.ID] == 0 {
			missing++
		}
	}
	for _, n := range counting.deliveries {
		delivered += n
	}
	counting.mu.Unlock()
	if missing > 0 {
		t.Errorf("%d of %d events were never delivered to the consumer", missing, len(log))
	}
	events, redelivered := counting.duplicates()
	src.mu.Lock()
	handed, refused := src.handed, src.errs["gap"]+src.errs["other"]
	errs := maps.Clone(src.errs)
	src.mu.Unlock()
	dropped := delivered - handed - refused
	t.Logf("consumer caught up %v after the writes ended; %d events, %d messages delivered (%d more than once): %d handed to the runner (%d more than once), %d refused %v, %d duplicates dropped by the Source's guard; runner: %s",
		caughtUp.Round(time.Millisecond), events, delivered, redelivered, handed, handed-events, refused, errs, dropped, &status)
	if events != len(log) {
		t.Errorf("the consumer received %d distinct events, the log holds %d", events, len(log))
	}
}
