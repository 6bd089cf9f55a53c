//go:build !race

// Built without -race for the reason given in rabbitmq_restart_test.go:
// watermill-amqp races on its own connection state.

package chaos_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
)

// TestRabbitMQQuorumLeaderKill runs the relay and a runner on a quorum
// queue of a three-node RabbitMQ cluster of its own, while writers append,
// and kills the node that leads the queue with SIGKILL mid-run. The
// clients are connected to another node, so they keep their connections;
// the queue elects a new leader among the two left. The node is restarted,
// and the consistency checker finds every acknowledged event applied once,
// in stream order, and every event delivered.
func TestRabbitMQQuorumLeaderKill(t *testing.T) {
	chaosOnly(t, "it forms a three-node RabbitMQ cluster (tens of seconds) and kills a node under load")
	e := setup(t)
	cluster := testenv.RabbitMQCluster(t, 3)
	queue := "eventfold_quorum_" + strings.TrimPrefix(e.opts.Schema, "t_")
	args := amqp091.Table{"x-queue-type": "quorum"}
	declareOn(t, cluster.URL(0), queue, args) // the leader goes where it is declared
	leader := testenv.QuorumLeader(t, cluster, 1, queue)
	if leader != 0 {
		t.Fatalf("the quorum queue is led by node %d, want 0 (where it was declared)", leader)
	}

	// The clients use node 1: the leader's loss is then the queue's, not
	// the connection's.
	cfg := wmamqp.NewDurableQueueConfig(cluster.URL(1))
	cfg.Queue.Arguments = args
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

	w := startWriters(e.store, 4, 1_000_000, 10*time.Millisecond)
	time.Sleep(2 * time.Second)
	_, before := relay.Active()
	cluster.Kill(leader)
	killedAt := time.Now()
	var elected time.Duration
	testenv.Eventually(t, 30*time.Second, func() bool {
		l := testenv.QuorumLeader(t, cluster, 1, queue)
		elected = time.Since(killedAt)
		return l >= 0 && l != leader
	}, "no new leader after %s was killed", cluster.Name(leader))
	time.Sleep(2 * time.Second)
	restartedAt := time.Now()
	cluster.Restart(leader)
	restarted := time.Since(restartedAt)
	time.Sleep(time.Second)
	last := w.finish()
	if len(w.failed) > 0 || w.errs > 0 {
		t.Fatalf("appends failed with PostgreSQL up: %q", w.sample)
	}
	if !before.Before(last) {
		t.Fatal("no append after the kill: the test did not test anything")
	}

	start := time.Now()
	wait, cancelWait := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancelWait()
	if err := projection.WaitFor(wait, e.rm, orderName, "", last); err != nil {
		t.Fatalf("the consumer did not apply the last append (%s): %v; runner: %s", last, err, &status)
	}
	caughtUp := time.Since(start)
	stopWatch()

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

	counting.mu.Lock()
	missing := 0
	for _, r := range log {
		if counting.deliveries[r.ID] == 0 {
			missing++
		}
	}
	counting.mu.Unlock()
	if missing > 0 {
		t.Errorf("%d of %d events were never delivered to the consumer", missing, len(log))
	}
	events, redelivered := counting.duplicates()
	relayWarns.mu.Lock()
	interruptions, firstWarn := relayWarns.n, relayWarns.first
	relayWarns.mu.Unlock()
	t.Logf("%d appends; new leader reported %v after the kill; the node restarted in %v; relay interrupted %d times (first: %s); consumer caught up %v after the writes ended; %d events delivered, %d deliveries repeated; runner: %s",
		len(w.acks), elected.Round(time.Millisecond), restarted.Round(time.Millisecond), interruptions, firstWarn,
		caughtUp.Round(time.Millisecond), events, redelivered, &status)
	if events != len(log) {
		t.Errorf("the consumer received %d distinct events, the log holds %d", events, len(log))
	}
}

// declareOn declares the durable queue name with args through the node at
// url, as watermill-amqp's durable queue config declares it.
func declareOn(t *testing.T, url, name string, args amqp091.Table) {
	t.Helper()
	conn, err := amqp091.DialConfig(url, amqp091.Config{Dial: amqp091.DefaultDial(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		t.Fatalf("declare quorum queue %s: %v", name, err)
	}
}
