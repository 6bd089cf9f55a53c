package redisstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	tallies "github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// countingHandler counts the log records whose message contains substr.
type countingHandler struct {
	substr string
	n      *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.substr) {
		h.n.Add(1)
	}

	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// TestClusterFailoverSpreadReadModel spreads one read model over a Redis
// Cluster of three masters with a replica each, and kills, while the
// projection catches up, the master of one partition at a moment its
// replica has not received that partition's last acknowledged commit. The
// replica is promoted without it: acknowledged writes are lost. The
// partition's Runner notices at its next commit (the fence it expects is
// gone), resumes from the checkpoint the new master kept, and the read
// model converges on an independent fold of the log, every partition's
// fence naming its checkpoint.
func TestClusterFailoverSpreadReadModel(t *testing.T) {
	t.Parallel()
	cl := testenv.StartRedisCluster(t, testenv.ClusterOptions{Replicas: 1, NodeTimeout: time.Second})
	ctx := context.Background()
	store, err := redisstore.New(cl.Client, &redisstore.Options{Prefix: "failover:"})
	if err != nil {
		t.Fatal(err)
	}
	es := memstore.New(nil)
	const streams, partitions, victim = 240, 6, 2
	// Round robin over the streams, so that every batch holds events of
	// every partition.
	for j := range 25 {
		for i := range streams {
			if _, err := es.Append(ctx, fmt.Sprint("s-", i), eventstore.Any, []eventstore.Event{tallies.Event(j)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	rewinds := make([]*atomic.Int64, partitions)
	runners := make([]*projection.Runner, partitions)
	runCtx, stopRunners := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() { stopRunners(); running.Wait() }()
	for k := range partitions {
		rewinds[k] = new(atomic.Int64)
		r, err := projection.NewRunner(projection.Config{Projection: tallies.Projection(), Source: projection.LogSource(es, nil), Store: store,
			Partitions: partitions, Partition: k, Spread: true, BatchSize: 20, MaxBackoff: 200 * time.Millisecond,
			Logger: slog.New(countingHandler{substr: "rewound", n: rewinds[k]})})
		if err != nil {
			t.Fatal(err)
		}
		runners[k] = r
		running.Go(func() { _ = r.Run(runCtx) })
	}
	stopWrites := make(chan struct{})
	var writes sync.WaitGroup
	writes.Go(func() {
		for {
			select {
			case <-stopWrites:
				return
			case <-time.After(time.Millisecond):
			}
			if _, err := es.Append(ctx, fmt.Sprint("s-", rand.IntN(streams)), eventstore.Any, []eventstore.Event{tallies.Event(7)}); err != nil {
				t.Error(err)
				return
			}
		}
	})

	ns := readmodel.Namespace{Projection: tallies.Name, Version: "1"}.WithPartition(victim, partitions)
	key := store.DocKey(ns, fmt.Sprint("$checkpoint/", victim))
	master := masterOf(t, cl.Client, key)
	acked, kept := killWhileReplicaLags(t, cl, master, key)
	t.Logf("killed %s, master of partition %d, which had acknowledged checkpoint revision %s; its replica had %s; runner states %v",
		master, victim, acked, kept, states(runners))

	var survivor string
	for _, a := range cl.Addrs[:3] {
		if a != master {
			survivor = a
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	killed := time.Now()
	promoted := cl.WaitFailover(fctx, master, survivor)
	t.Logf("%s took over %s after the kill", promoted, time.Since(killed).Round(10*time.Millisecond))

	time.Sleep(200 * time.Millisecond)
	close(stopWrites)
	writes.Wait()
	head := lastOf(t, es)
	// The Runners retry every 200 ms at most and a replica has taken over:
	// a read model that does not converge within 20 s is stuck.
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	start := time.Now()
	if err := projection.WaitFor(wctx, store, tallies.Name, "", head); err != nil {
		t.Fatalf("after the failover: %v; runner statuses %+v", err, statuses(runners))
	}
	t.Logf("caught up %s after the writes stopped", time.Since(start).Round(time.Millisecond))
	tallies.Check(t, es, store, head)
	if n := rewinds[victim].Load(); n == 0 {
		t.Errorf("partition %d never noticed that its acknowledged commit at revision %s was lost", victim, acked)
	}
	checkFences(t, store, partitions, head)
}

// killWhileReplicaLags cuts the master's replication link and keeps it
// cut (the replica is given a password the master refuses), waits until
// the master has acknowledged a commit of the checkpoint document under key
// that the replica has not received, and kills the master. It returns the
// checkpoint's revision the master had acknowledged and the one its
// replica kept.
func killWhileReplicaLags(t *testing.T, cl *testenv.Cluster, master, key string) (acked, kept string) {
	t.Helper()
	ctx := context.Background()
	replica, err := cl.ReplicaOf(ctx, master)
	if err != nil {
		t.Fatal(err)
	}
	mc := redis.NewClient(&redis.Options{Addr: master})
	defer mc.Close()
	rc := redis.NewClient(&redis.Options{Addr: replica})
	defer rc.Close()
	rconn := rc.Conn()
	defer rconn.Close()
	if err := rconn.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Let a few commits reach the replica first: the loss is then of
	// some commits, not of the whole partition.
	deadline := time.Now().Add(5 * time.Second)
	for {
		kept, _ = rconn.HGet(ctx, key, "r").Result()
		if kept != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no commit of the partition reached the replica %s", replica)
		}
		time.Sleep(time.Millisecond)
	}
	if err := rconn.ConfigSet(ctx, "masterauth", "refused").Err(); err != nil {
		t.Fatal(err)
	}
	if err := mc.ClientKillByFilter(ctx, "TYPE", "replica").Err(); err != nil {
		t.Fatal(err)
	}
	for {
		info, err := rconn.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica %s is still linked to %s: %v\n%s", replica, master, err, info)
		}
		time.Sleep(5 * time.Millisecond)
	}
	kept, _ = rconn.HGet(ctx, key, "r").Result()
	for {
		acked, _ = mc.HGet(ctx, key, "r").Result()
		if acked != kept {
			cl.Kill(master)
			return acked, kept
		}
		if time.Now().After(deadline) {
			t.Fatalf("the runner committed nothing to %s while its replica was cut off", master)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func states(rs []*projection.Runner) []projection.State {
	var out []projection.State
	for _, r := range rs {
		out = append(out, r.Status().State)
	}
	return out
}

func statuses(rs []*projection.Runner) []projection.Status {
	var out []projection.Status
	for _, r := range rs {
		out = append(out, r.Status())
	}
	return out
}

func lastOf(t *testing.T, es eventstore.Store) eventstore.Position {
	t.Helper()
	var last eventstore.Position
	for {
		recs, err := es.ReadAll(context.Background(), last, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return last
		}
		last = recs[len(recs)-1].Position
	}
}

// checkFences checks that every partition has applied the log up to head
// and that its namespace's fence names the position of its checkpoint, so
// the checkpoint and the documents committed with it are the ones the
// fence vouches for.
func checkFences(t *testing.T, store *redisstore.Store, partitions int, head eventstore.Position) {
	t.Helper()
	ctx := context.Background()
	cps, err := projectionops.Checkpoints(ctx, store, tallies.Name, "")
	if err != nil {
		t.Fatal(err)
	}
	for k, cp := range cps {
		st, err := store.State(ctx, readmodel.Namespace{Projection: tallies.Name, Version: "1"}.WithPartition(k, partitions))
		if err != nil {
			t.Fatal(err)
		}
		if cp.Before(head) {
			t.Errorf("partition %d is at %v, before the head %v", k, cp, head)
		}
		if _, at, _ := strings.Cut(st.Checkpoint, "@"); at != cp.String() {
			t.Errorf("partition %d: fence %q does not name its checkpoint %v", k, st.Checkpoint, cp)
		}
	}
}
