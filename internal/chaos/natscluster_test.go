package chaos_test

import (
	"context"
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
	"github.com/eventfold/eventfold/eventstore"
	tallies "github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// clusterReplicas is the replica count of the stream and of the consumer
// (which inherits it) in TestNATSClusterLeaderKill.
const clusterReplicas = 3

// countingPublisher passes batches through and keeps the errors the
// publisher returned.
type countingPublisher struct {
	message.Publisher

	mu   sync.Mutex
	errs []string
}

func (p *countingPublisher) Publish(topic string, msgs ...*message.Message) error {
	err := p.Publisher.Publish(topic, msgs...)
	if err != nil {
		p.mu.Lock()
		p.errs = append(p.errs, err.Error())
		p.mu.Unlock()
	}
	return err
}

func (p *countingPublisher) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// stallMeter samples a position (the relay's published one, a runner's
// applied one) and keeps the longest time it stood still while writes went
// on.
type stallMeter struct {
	mu      sync.Mutex
	longest time.Duration
	at      time.Time // when the longest stall began
}

func (m *stallMeter) watch(ctx context.Context, position func() eventstore.Position) {
	last := position()
	since := time.Now()
	for ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
		pos := position()
		if pos != last {
			last, since = pos, time.Now()
			continue
		}
		m.mu.Lock()
		if d := time.Since(since); d > m.longest {
			m.longest, m.at = d, since
		}
		m.mu.Unlock()
	}
}

func (m *stallMeter) get() (time.Duration, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.longest, m.at
}

// TestNATSClusterLeaderKill runs the relay and a projection runner on a
// three-node JetStream cluster of their own, with the stream and the
// durable consumer replicated on all three (R3), while writers append
// without pause. It kills the node that leads the stream (or, in the second
// case, the consumer) with SIGKILL mid-run, keeps writing, restarts the
// node, and then checks that the relay published up to the head of the log
// and that the read model equals a fold of the store: no event lost, none
// applied twice. It restarts none of the shared services.
func TestNATSClusterLeaderKill(t *testing.T) {
	chaosOnly(t, "it kills servers of a NATS cluster under load for half a minute")
	for _, asset := range []string{"stream", "consumer"} {
		t.Run(asset+"_leader", func(t *testing.T) { clusterLeaderKill(t, asset) })
	}
}

// clusterLeaderKill runs one case of TestNATSClusterLeaderKill, killing
// the leader of asset ("stream" or "consumer").
func clusterLeaderKill(t *testing.T, asset string) {
	r := startClusterRun(t)
	var status statusLog
	var relayStall, projectionStall stallMeter
	wctx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	go status.watch(wctx, r.rn, 10*time.Millisecond)
	sctx, stopStall := context.WithCancel(wctx)
	go relayStall.watch(sctx, func() eventstore.Position { _, pos := r.relay.Active(); return pos })
	go projectionStall.watch(sctx, func() eventstore.Position { return r.rn.Status().Position })

	w := startWriters(r.e.store, 2, 1_000_000, 5*time.Millisecond)
	time.Sleep(3 * time.Second)
	_, before := r.relay.Active()
	victim, killedAt := r.killLeader(t, asset)
	time.Sleep(3 * time.Second)
	restartedAt := time.Now()
	r.cluster.Restart(victim)
	t.Logf("%s restarted and healthy in %v", r.cluster.Name(victim), time.Since(restartedAt).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	last := w.finish()
	stopStall()
	if len(w.failed) > 0 || w.errs > 0 {
		t.Fatalf("appends failed with PostgreSQL up: %q", w.sample)
	}
	if !before.Before(last) {
		t.Fatal("no append after the kill: the test did not test anything")
	}

	start := time.Now()
	testenv.Eventually(t, 30*time.Second, func() bool {
		_, pos := r.relay.Active()
		return pos == last
	}, "the relay did not publish up to the last append %s", last)
	tallies.Check(t, r.e.store, r.e.rm, last)
	stopWatch()
	reportClusterRun(t, r, time.Since(start), [2]*stallMeter{&relayStall, &projectionStall}, killedAt, &status)
}

// clusterRun is the relay and a tally runner on a NATS cluster of their
// own.
type clusterRun struct {
	cluster  *testenv.NATSServers
	e        *env
	js       nc.JetStreamContext
	topic    string
	consumer natsjs.Consumer
	pub      *countingPublisher
	sub      *countingSubscriber
	relay    *watermillbus.Relay
	rn       *runner
}

// startClusterRun starts the cluster, creates the R3 stream and its R3
// durable consumer, and runs the relay and the runner until the test ends.
func startClusterRun(t *testing.T) *clusterRun {
	t.Helper()
	r := &clusterRun{cluster: testenv.NATSCluster(t, clusterReplicas), e: setup(t)}
	r.topic = "eventfold_cluster_" + strings.TrimPrefix(r.e.opts.Schema, "t_")
	urls := strings.Join(r.cluster.URLs(), ",")
	// Clients know every node and move to another when theirs dies.
	connOpts := []nc.Option{nc.ReconnectWait(100 * time.Millisecond), nc.MaxReconnects(-1), nc.Timeout(time.Second)}
	conn, err := nc.Connect(urls, connOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if r.js, err = conn.JetStream(nc.MaxWait(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.js.AddStream(&nc.StreamConfig{Name: r.topic, Subjects: []string{r.topic}, Replicas: clusterReplicas}); err != nil {
		t.Fatalf("create the R%d stream: %v", clusterReplicas, err)
	}
	// One message unacknowledged at a time: watermill-nats v2.1.3 can
	// panic when a subscription ends (the runner reopening its feed) while
	// nats.go holds further messages for it. Its handler waits for each
	// ack anyway, so this costs no throughput.
	r.consumer = natsjs.Consumer{Stream: r.topic, Subject: r.topic, Durable: r.topic + "_tallies",
		QueueGroup: r.topic + "_tallies", AckWait: 2 * time.Second, MaxAckPending: 1}
	info, err := natsjs.EnsureConsumer(t.Context(), r.js, r.consumer)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas) != clusterReplicas-1 {
		t.Fatalf("the consumer is not replicated on %d nodes: %+v", clusterReplicas, info.Cluster)
	}
	r.pub = newClusterPublisher(t, urls, connOpts)
	r.sub = &countingSubscriber{Subscriber: newClusterSubscriber(t, urls, connOpts, r.consumer), deliveries: map[string]int{}}

	r.relay, err = watermillbus.NewRelay(watermillbus.RelayConfig{
		Store: r.e.store, Publisher: r.pub, Topic: r.topic, Checkpoints: pgstore.NewCheckpoints(r.e.pool, r.e.opts),
		Poll: projection.LogOptions{MaxPoll: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); r.relay.Run(ctx) }() //nolint:errcheck
	t.Cleanup(func() { cancel(); <-relayDone })
	r.rn = startRunner(t, watermillbus.NewSource(r.sub, r.topic, nil), r.e.rm, 100)
	return r
}

// leaders returns the nodes that lead the stream and the consumer, or ""
// where JetStream does not answer within wait.
func (r *clusterRun) leaders(wait time.Duration) (ofStream, ofConsumer string) {
	if si, err := r.js.StreamInfo(r.topic, nc.MaxWait(wait)); err == nil && si.Cluster != nil {
		ofStream = si.Cluster.Leader
	}
	if ci, err := r.js.ConsumerInfo(r.topic, r.consumer.Durable, nc.MaxWait(wait)); err == nil && ci.Cluster != nil {
		ofConsumer = ci.Cluster.Leader
	}
	return ofStream, ofConsumer
}

// killLeader SIGKILLs the node that leads asset ("stream" or "consumer"),
// waits until another node leads it, and returns the killed node and when
// it died.
func (r *clusterRun) killLeader(t *testing.T, asset string) (int, time.Time) {
	t.Helper()
	streamLeader, consumerLeader := r.leaders(5 * time.Second)
	victim := streamLeader
	if asset == "consumer" {
		victim = consumerLeader
	}
	node := r.cluster.Index(victim)
	if node < 0 {
		t.Fatalf("the %s has no leader among the nodes (stream leader %q, consumer leader %q)", asset, streamLeader, consumerLeader)
	}
	_, at := r.relay.Active()
	r.cluster.Kill(node)
	killedAt := time.Now()
	// A new leader usually comes within seconds; on a loaded machine it may
	// take longer than the test waits. The restart that follows brings the
	// node back either way, and the checks after it are what the test is
	// for: nothing lost, nothing applied twice.
	deadline := killedAt.Add(20 * time.Second)
	elected := time.Duration(-1)
	for time.Now().Before(deadline) {
		s, c := r.leaders(500 * time.Millisecond)
		if asset == "consumer" {
			s = c
		}
		if s != "" && s != victim {
			elected = time.Since(killedAt)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if elected < 0 {
		t.Logf("killed %s, which led the %s, with the relay at %s; no new leader was reported within 20s: restarting it",
			victim, asset, at)
		return node, killedAt
	}
	newStreamLeader, newConsumerLeader := r.leaders(5 * time.Second)
	t.Logf("killed %s, which led the %s (stream leader %s, consumer leader %s), with the relay at %s; "+
		"%v later the stream is led by %s, the consumer by %s", victim, asset, streamLeader, consumerLeader, at,
		elected.Round(time.Millisecond), newStreamLeader, newConsumerLeader)
	return node, killedAt
}

func newClusterPublisher(t *testing.T, urls string, connOpts []nc.Option) *countingPublisher {
	t.Helper()
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: urls, NatsOptions: connOpts,
		Marshaler: &wmnats.NATSMarshaler{},
		// The stream exists (R3); TrackMsgId lets JetStream drop a batch
		// the relay publishes again after an error it had in fact stored.
		JetStream: wmnats.JetStreamConfig{TrackMsgId: true, ConnectOptions: []nc.JSOpt{nc.MaxWait(2 * time.Second)}},
	}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	return &countingPublisher{Publisher: pub}
}

func newClusterSubscriber(t *testing.T, urls string, connOpts []nc.Option, c natsjs.Consumer) message.Subscriber {
	t.Helper()
	conn, err := nc.Connect(urls, connOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	sub, err := wmnats.NewSubscriberWithNatsConn(conn, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler: &wmnats.NATSMarshaler{}, QueueGroupPrefix: c.QueueGroup, SubscribersCount: 1,
		AckWaitTimeout: c.AckWait, CloseTimeout: 2 * time.Second, SubscribeTimeout: 5 * time.Second,
		JetStream: wmnats.JetStreamConfig{DurablePrefix: c.Durable, SubscribeOptions: c.SubscribeOptions()},
	}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// reportClusterRun logs what the leader kill cost, and fails the test if
// the stream holds an event twice or misses one, or the subscriber missed
// one.
func reportClusterRun(t *testing.T, r *clusterRun, catchUp time.Duration, stalls [2]*stallMeter, killedAt time.Time,
	status *statusLog) {
	t.Helper()
	_, ids := r.e.fold(t)
	sub := r.sub
	si, err := r.js.StreamInfo(r.topic)
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != uint64(len(ids)) {
		t.Errorf("the stream holds %d messages for %d events: the relay's retries were stored twice or events are missing",
			si.State.Msgs, len(ids))
	}
	sub.mu.Lock()
	missing := 0
	for id := range ids {
		if sub.deliveries[id] == 0 {
			missing++
		}
	}
	sub.mu.Unlock()
	if missing > 0 {
		t.Errorf("%d of %d events never reached the subscriber", missing, len(ids))
	}
	errs := r.pub.errors()
	_, dups := sub.duplicates()
	relayStall, relayAt := stalls[0].get()
	projStall, projAt := stalls[1].get()
	t.Logf("%d events; the relay published nothing for %v from %v after the kill (%d publish errors %q); "+
		"the projection applied nothing for %v from %v after the kill",
		len(ids), relayStall.Round(time.Millisecond), relayAt.Sub(killedAt).Round(time.Millisecond), len(errs), firstN(errs, 3),
		projStall.Round(time.Millisecond), projAt.Sub(killedAt).Round(time.Millisecond))
	t.Logf("the projection caught up %v after the writes ended; %d duplicate deliveries dropped by the Source; runner: %s",
		catchUp.Round(time.Millisecond), dups, status)
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }
