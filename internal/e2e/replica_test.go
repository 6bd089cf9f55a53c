package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	tallies "github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// slowReplica reads a little slower than the replica it wraps, so that a
// catch-up lasts long enough to stop the standby in the middle of it.
type slowReplica struct{ *pgstore.Replica }

func (s slowReplica) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	time.Sleep(5 * time.Millisecond)
	return s.Replica.ReadAll(ctx, after, limit)
}

// standbyEnv is a store on a primary of its own, a Replica of it on the
// primary's hot standby, and a Redis read-model store.
type standbyEnv struct {
	pair             *testenv.PGPair
	primary, standby *pgxpool.Pool
	opts             *pgstore.Options
	store            *pgstore.Store
	replica          *pgstore.Replica
	rm               *redisstore.Store
}

func newStandbyEnv(t *testing.T) *standbyEnv {
	t.Helper()
	e := &standbyEnv{pair: testenv.PGStandby(t), opts: &pgstore.Options{Schema: "e2e_standby"}}
	ctx := t.Context()
	var err error
	if e.primary, err = pgxpool.New(ctx, e.pair.Primary.URL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.primary.Close)
	if e.standby, err = pgxpool.New(ctx, e.pair.Standby.URL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.standby.Close)
	if err := pgstore.Migrate(ctx, e.primary, e.opts); err != nil {
		t.Fatal(err)
	}
	if e.store, err = pgstore.New(e.primary, e.opts); err != nil {
		t.Fatal(err)
	}
	if e.replica, err = e.store.WithReplica(e.standby, &pgstore.ReplicaOptions{CheckInterval: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	rc, prefix := testenv.Redis(t)
	if e.rm, err = redisstore.New(rc, &redisstore.Options{Prefix: strings.NewReplacer("{", "", "}", "").Replace(prefix) + ":"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// fillBacklog appends n events, ten per append, waits until the standby
// has replayed them and returns the last one's position.
func (e *standbyEnv) fillBacklog(t *testing.T, n int) eventstore.Position {
	t.Helper()
	var last eventstore.Position
	for i := 0; i < n; i += 10 {
		events := make([]eventstore.Event, 10)
		for j := range events {
			events[j] = tallies.Event(i + j)
		}
		res, err := e.store.Append(t.Context(), fmt.Sprintf("b-%d", i%300), eventstore.Any, events)
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	e.replayed(t)
	return last
}

func (e *standbyEnv) replayed(t *testing.T) {
	t.Helper()
	if err := e.pair.WaitReplayed(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// startRunner runs the tally projection from the Replica (slowed down)
// into Redis until the test ends.
func (e *standbyEnv) startRunner(t *testing.T) *projection.Runner {
	t.Helper()
	runner, err := projection.NewRunner(projection.Config{Projection: tallies.Projection(),
		Source: projection.LogSource(slowReplica{e.replica}, nil), Store: e.rm, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); runner.Run(ctx) }() //nolint:errcheck
	t.Cleanup(func() { stop(); <-done })
	return runner
}

// TestRunnerOnStandby runs a projection Runner that catches up from a hot
// standby into Redis. The standby is stopped in the middle of the
// catch-up while writers append (one transaction held open while the
// others commit): the Runner goes on reading the primary. The standby is
// restarted, then its replay paused, which the Runner reports as lag and
// its health check as a stall. At the end the read model equals an
// independent fold of the primary's log.
func TestRunnerOnStandby(t *testing.T) {
	e := newStandbyEnv(t)
	const backlog = 3000
	backlogEnd := e.fillBacklog(t, backlog)
	runner := e.startRunner(t)

	// Stop the standby a fifth of the way through the backlog.
	testenv.Eventually(t, 30*time.Second, func() bool {
		return runner.Status().Position.Sequence >= backlog/5
	}, "the Runner did not get a fifth through the backlog: %+v", runner.Status())
	if !e.replica.ReadingStandby() {
		t.Fatalf("the Runner read the backlog from the primary: %v", lastLagErr(e.replica))
	}
	e.pair.Standby.Stop()
	if at := runner.Status().Position; !at.Before(backlogEnd) {
		t.Fatalf("the Runner caught up (%v) before the standby stopped", at)
	}
	last := writeWithHeldTransaction(t, e.store, e.primary, e.opts)
	testenv.Eventually(t, 60*time.Second, func() bool {
		return !runner.Status().Position.Before(last)
	}, "with the standby down the Runner stopped at %v, before %v", runner.Status().Position, last)
	if e.replica.ReadingStandby() {
		t.Fatal("the replica reads a stopped standby")
	}

	if err := e.pair.Standby.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.replayed(t)
	testenv.Eventually(t, 30*time.Second, e.replica.ReadingStandby,
		"the replica did not return to the restarted standby: %v", lastLagErr(e.replica))

	last = e.pausedReplay(t, runner)
	tallies.Check(t, e.store, e.rm, last)
}

// pausedReplay pauses the standby's replay and appends: the standby stays
// within MaxLagBytes and keeps serving reads, the Runner reports the
// distance to the primary's head as lag, and its health check calls it
// stalled until replay resumes. It returns the last appended position.
func (e *standbyEnv) pausedReplay(t *testing.T, runner *projection.Runner) eventstore.Position {
	t.Helper()
	ctx := t.Context()
	if _, err := e.standby.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	var last eventstore.Position
	for i := range 20 {
		res, err := e.store.Append(ctx, "paused", eventstore.Any, []eventstore.Event{tallies.Event(i)})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		st := runner.Status()
		return st.LagEvents > 0 && st.State == projection.StateCatchingUp && st.Head == last
	}, "the Runner does not report the paused standby as lag: %+v", runner.Status())
	health, err := projectionops.NewHealthCheck(projectionops.RunnerStatuses(runner), &projectionops.HealthOptions{StallAfter: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return health.Check() != nil },
		"the health check passes while the standby's replay is paused: %+v", runner.Status())
	t.Logf("health check with replay paused: %v", health.Check())
	if _, err := e.standby.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, func() bool { return health.Check() == nil && runner.Status().Position == last },
		"after replay resumed the Runner is at %v, want %v; health: %v", runner.Status().Position, last, health.Check())
	return last
}

// writeWithHeldTransaction appends from four writers while one transaction
// holds an append open, then commits it, and returns the last position.
func writeWithHeldTransaction(t *testing.T, store *pgstore.Store, pool *pgxpool.Pool, opts *pgstore.Options) eventstore.Position {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	inTx, err := pgstore.New(tx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inTx.Append(ctx, "held", eventstore.Any, []eventstore.Event{tallies.Event(1000)}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var last eventstore.Position
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				res, err := store.Append(ctx, fmt.Sprintf("w-%d", (w+i)%3), eventstore.Any, []eventstore.Event{tallies.Event(i)})
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
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return last
}

func lastLagErr(r *pgstore.Replica) error {
	_, err := r.LastLag()
	return err
}
