package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	tallies "github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// shard is one PostgreSQL cluster of TestTenantMoveBetweenClusters.
type shard struct {
	server *testenv.PGServer
	pool   *pgxpool.Pool
	store  *pgstore.Store
}

func startShard(t *testing.T) shard {
	t.Helper()
	s := testenv.PGCluster(t)
	pool := s.Pool(t)
	if err := pgstore.Migrate(t.Context(), pool, nil); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	return shard{server: s, pool: pool, store: store}
}

// TestTenantMoveBetweenClusters: three tenants on two PostgreSQL clusters
// of their own, each tenant's projection in Redis reading its tenant's log
// on its shard, writers appending to every tenant all along. Tenant acme
// moves from shard a to shard b mid-run: fenced, copied, and then shard
// a's postmaster and backends are killed with SIGKILL before the shard map
// changes. Shard a restarts, the move is run again and completes, and
// acme's projection is rebuilt from shard b. In the end every tenant's log
// on its shard holds each acknowledged append exactly once and nothing
// else, and its read model equals a fold of that log done here with SQL
// and encoding/json.
func TestTenantMoveBetweenClusters(t *testing.T) {
	ctx := t.Context()
	a, b := startShard(t), startShard(t)
	dirPool, dirSchema := testenv.Schema(t) // the operator's map lives apart from both shards
	dirOpts := &pgstore.Options{Schema: dirSchema}
	if err := pgstore.Migrate(ctx, dirPool, dirOpts); err != nil {
		t.Fatal(err)
	}
	shardMap, err := pgstore.NewShardMap(dirPool, "a", dirOpts)
	if err != nil {
		t.Fatal(err)
	}
	for tenant, s := range map[string]string{"acme": "a", "globex": "a", "initech": "b"} {
		if err := shardMap.Assign(ctx, tenant, s); err != nil {
			t.Fatal(err)
		}
	}
	shards, err := eventstore.NewShards(map[string]eventstore.Store{"a": a.store, "b": b.store}, shardMap)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]shard{"a": a, "b": b}
	rc, prefix := testenv.Redis(t)
	prefix = strings.NewReplacer("{", "", "}", "").Replace(prefix) + ":"
	rm, err := redisstore.New(rc, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}

	runners := map[string]func(){}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		name, _ := shardMap.ShardOf(ctx, tenant)
		runners[tenant] = startTenantRunner(t, byName[name].store, tenant, rm)
	}

	// One relay per shard, each to a topic of its own, checkpointed in its
	// shard.
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, watermill.NopLogger{})
	t.Cleanup(func() { bus.Close() })
	relays := map[string]*watermillbus.Relay{}
	for name, s := range byName {
		relays[name] = startShardRelay(t, s, bus, "log-"+name)
	}

	w := startShardWriters(ctx, shards, []string{"acme", "globex", "initech"}, 3)
	time.Sleep(2 * time.Second)

	// The move, interrupted after the copy by a crash of the source.
	if err := pgstore.FenceTenant(ctx, a.store, "acme"); err != nil {
		t.Fatal(err)
	}
	copied, err := pgstore.CopyTenant(ctx, a.store, b.store, "acme")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copied %v", copied.Rows)
	a.server.Kill()
	time.Sleep(time.Second)
	a.server.Start()
	if s, _ := shardMap.ShardOf(ctx, "acme"); s != "a" {
		t.Fatalf("acme is on shard %s before the move completed", s)
	}
	rep, err := pgstore.MoveTenant(ctx, "acme", a.store, b.store, shardMap, "b")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.AlreadyCopied {
		t.Errorf("the resumed move copied again: %+v", rep)
	}
	// acme's projection follows it: rebuilt from shard b's log.
	runners["acme"]()
	rebuildTenant(t, b.store, "acme", rm)
	runners["acme"] = startTenantRunner(t, b.store, "acme", rm)

	time.Sleep(2 * time.Second)
	acked := w.finish(t)

	stale, _ := a.store.ForTenant("acme")
	if _, err := stale.Append(ctx, "s-0", eventstore.Any, []eventstore.Event{tallies.Event(1)}); !errors.Is(err, eventstore.ErrTenantFenced) {
		t.Errorf("an append to acme on its old shard: %v, want ErrTenantFenced", err)
	}
	if w.fenced.Load() == 0 {
		t.Error("no append met the fence: the move did not happen under load")
	}
	t.Logf("acknowledged appends %v; fenced attempts %d, other failed attempts %d", countAcked(acked), w.fenced.Load(), w.failed.Load())

	for tenant, ids := range acked {
		name, _ := shardMap.ShardOf(ctx, tenant)
		checkTenantLog(t, byName[name].pool, tenant, ids)
		checkReadModel(t, byName[name], tenant, rm)
	}
	for name, s := range byName {
		checkRelayed(t, s, relays[name], bus, "log-"+name)
	}
}

// startShardRelay forwards the log of every tenant on s to topic until the
// test ends.
func startShardRelay(t *testing.T, s shard, pub message.Publisher, topic string) *watermillbus.Relay {
	t.Helper()
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
		Store: s.store.AllTenants(), Publisher: pub, Topic: topic, Checkpoints: pgstore.NewCheckpoints(s.pool, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() { _ = relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return relay
}

// checkRelayed waits until s's relay has published up to s's head, then
// fails t unless topic carries every event of s's log and only those
// (each at least once: a relay may publish a batch again after its shard
// restarted).
func checkRelayed(t *testing.T, s shard, relay *watermillbus.Relay, sub message.Subscriber, topic string) {
	t.Helper()
	ctx := t.Context()
	head, err := s.store.AllTenants().Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() bool { _, pos := relay.Active(); return !pos.Before(head) },
		"the relay of %s did not publish up to %v", topic, head)
	var want int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM eventfold.events").Scan(&want); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, err := sub.Subscribe(sctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < want {
		select {
		case msg := <-msgs:
			rec, _, err := watermillbus.Record(msg)
			if err != nil {
				t.Fatal(err)
			}
			msg.Ack()
			var stored int
			if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM eventfold.events WHERE event_id = $1 AND tenant_id = $2",
				rec.ID, rec.Tenant).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != 1 {
				t.Fatalf("%s carries event %s of tenant %s, which its shard does not hold", topic, rec.ID, rec.Tenant)
			}
			seen[rec.ID] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("%s carries %d of its shard's %d events", topic, len(seen), want)
		}
	}
}

// startTenantRunner runs tenant's tally projection over its log on store,
// until the returned stop is called or the test ends.
func startTenantRunner(t *testing.T, store *pgstore.Store, tenant string, rm *redisstore.Store) (stop func()) {
	t.Helper()
	ts, err := store.ForTenant(tenant)
	if err != nil {
		t.Fatal(err)
	}
	r, err := projection.NewRunner(projection.Config{Projection: tallyProjection(), Tenant: tenant, Source: projection.LogSource(ts, nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// rebuildTenant rebuilds tenant's read model from its log on store and
// waits until readers are switched over to it.
func rebuildTenant(t *testing.T, store *pgstore.Store, tenant string, rm *redisstore.Store) {
	t.Helper()
	ts, _ := store.ForTenant(tenant)
	rb, err := projection.NewRebuild(t.Context(), projection.Config{Projection: tallyProjection(), Tenant: tenant, Source: projection.LogSource(ts, nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := rb.Run(ctx); err != nil {
		t.Fatalf("rebuild of %s from its new shard: %v", tenant, err)
	}
}

// checkTenantLog fails t unless tenant's events on the shard are exactly
// the acknowledged ones (event ID → N), each once.
func checkTenantLog(t *testing.T, pool *pgxpool.Pool, tenant string, acked map[string]int) {
	t.Helper()
	rows, err := pool.Query(t.Context(), "SELECT event_id::text, data FROM eventfold.events WHERE tenant_id = $1", tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := map[string]int{}
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			t.Fatal(err)
		}
		var e struct{ N int }
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		if _, dup := stored[id]; dup {
			t.Errorf("tenant %s: event %s stored twice", tenant, id)
		}
		stored[id] = e.N
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		if _, ok := stored[id]; !ok {
			t.Errorf("tenant %s: acknowledged event %s is lost", tenant, id)
		}
	}
	for id := range stored {
		if _, ok := acked[id]; !ok {
			t.Errorf("tenant %s: event %s is stored but was never acknowledged", tenant, id)
		}
	}
}

// checkReadModel waits until tenant's projection has applied its shard's
// head, then compares the read model with a fold of the log read with SQL.
func checkReadModel(t *testing.T, s shard, tenant string, rm *redisstore.Store) {
	t.Helper()
	ctx := t.Context()
	ts, _ := s.store.ForTenant(tenant)
	head, err := ts.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := projection.WaitFor(wctx, rm, tallies.Name, tenant, head); err != nil {
		t.Fatalf("tenant %s: WaitFor(%v): %v", tenant, head, err)
	}
	rows, err := s.pool.Query(ctx, "SELECT stream_id, data FROM eventfold.events WHERE tenant_id = $1", tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[string]tally{}
	for rows.Next() {
		var stream string
		var data []byte
		if err := rows.Scan(&stream, &data); err != nil {
			t.Fatal(err)
		}
		var e struct{ N int }
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		d := want[stream]
		d.Count++
		d.Sum += e.N
		want[stream] = d
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ns, err := projection.Active(ctx, rm, tallies.Name, tenant)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	items, err := tallies.Model.View(rm, ns).GetMany(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]tally{}
	for _, it := range items {
		got[it.ID] = it.Doc
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tenant %s (read model %s): differs from the fold of its log (-log +read model):\n%s", tenant, ns.Version, diff)
	}
}

func countAcked(acked map[string]map[string]int) map[string]int {
	n := map[string]int{}
	for tenant, ids := range acked {
		n[tenant] = len(ids)
	}
	return n
}

// shardWriters append to every tenant through the router, each retrying
// one event (same ID) until it is acknowledged, so that every event ever
// attempted is acknowledged exactly once by the end.
type shardWriters struct {
	cancel         context.CancelFunc
	wg             sync.WaitGroup
	mu             sync.Mutex
	acked          map[string]map[string]int // tenant → event ID → N
	fenced, failed atomic.Int64
}

func startShardWriters(ctx context.Context, shards *eventstore.Shards, tenants []string, perTenant int) *shardWriters {
	ctx, cancel := context.WithCancel(ctx)
	w := &shardWriters{cancel: cancel, acked: map[string]map[string]int{}}
	for _, tenant := range tenants {
		w.acked[tenant] = map[string]int{}
		for k := range perTenant {
			w.wg.Add(1)
			go w.write(ctx, shards, tenant, fmt.Sprintf("s-%d", k))
		}
	}
	return w
}

func (w *shardWriters) write(ctx context.Context, shards *eventstore.Shards, tenant, stream string) {
	defer w.wg.Done()
	for n := 1; ctx.Err() == nil; n++ {
		ev := tallies.Event(n)
		// Once attempted, an event is retried until acknowledged, even
		// after the writers are told to stop: its outcome must be known.
		for attempt := 0; attempt < 600; attempt++ {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, err := shards.Append(actx, tenant, stream, eventstore.Any, []eventstore.Event{ev})
			cancel()
			if err == nil {
				w.mu.Lock()
				w.acked[tenant][ev.ID] = n
				w.mu.Unlock()
				break
			}
			if errors.Is(err, eventstore.ErrTenantFenced) {
				w.fenced.Add(1)
			} else {
				w.failed.Add(1)
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish stops the writers and returns what they had acknowledged.
func (w *shardWriters) finish(t *testing.T) map[string]map[string]int {
	t.Helper()
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}
