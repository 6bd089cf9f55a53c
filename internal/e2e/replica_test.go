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
)

// slowReplica reads a little slower than the replica it wraps, so that a
// catch-up lasts long enough to stop the standby in the middle of it.
type slowReplica struct{ *pgstore.Replica }

func (s slowReplica) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	time.Sleep(5 * time.Millisecond)
	return s.Replica.ReadAll(ctx, after, limit)
}

// TestRunnerOnStandby runs a projection Runner that catches up from a hot
// standby into Redis. The standby is stopped in the middle of the
// catch-up while writers append (one transaction held open while the
// others commit): the Runner goes on reading the primary. The standby is
// restarted, then its replay paused, which the Runner reports as lag and
// its health check as a stall.
// At the end the read model equals an independent fold of the primary's
// log.
func TestRunnerOnStandby(t *testing.T) {
	pair := testenv.PGStandby(t)
	ctx := t.Context()
	primary, err := pgxpool.New(ctx, pair.Primary.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	standby, err := pgxpool.New(ctx, pair.Standby.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close()
	opts := &pgstore.Options{Schema: "e2e_standby"}
	if err := pgstore.Migrate(ctx, primary, opts); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(primary, opts)
	if err != nil {
		t.Fatal(err)
	}
	replica, err := store.WithReplica(standby, &pgstore.ReplicaOptions{CheckInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rc, prefix := testenv.Redis(t)
	rm, err := redisstore.New(rc, &redisstore.Options{Prefix: strings.NewReplacer("{", "", "}", "").Replace(prefix) + ":"})
	if err != nil {
		t.Fatal(err)
	}

	// The backlog, replayed on the standby before the Runner starts.
	const appends, perAppend = 300, 10
	var backlogEnd eventstore.Position
	for i := range appends {
		events := make([]eventstore.Event, perAppend)
		for j := range events {
			events[j] = tallies.Event(i*perAppend + j)
		}
		res, err := store.Append(ctx, fmt.Sprintf("b-%d", i%30), eventstore.Any, events)
		if err != nil {
			t.Fatal(err)
		}
		backlogEnd = res.Position
	}
	if err := pair.WaitReplayed(ctx); err != nil {
		t.Fatal(err)
	}

	runner, err := projection.NewRunner(projection.Config{Projection: tallies.Projection(),
		Source: projection.LogSource(slowReplica{replica}, nil), Store: rm, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); runner.Run(rctx) }() //nolint:errcheck

	// Stop the standby a fifth of the way through the backlog.
	testenv.Eventually(t, 30*time.Second, func() bool {
		return runner.Status().Position.Sequence >= appends*perAppend/5
	}, "the Runner did not get a fifth through the backlog: %+v", runner.Status())
	if !replica.ReadingStandby() {
		t.Fatalf("the Runner read the backlog from the primary: %v", lastLagErr(replica))
	}
	pair.Standby.Stop()
	if at := runner.Status().Position; !at.Before(backlogEnd) {
		t.Fatalf("the Runner caught up (%v) before the standby stopped", at)
	}
	last := writeWithHeldTransaction(t, store, primary, opts)
	testenv.Eventually(t, 60*time.Second, func() bool {
		return !runner.Status().Position.Before(last)
	}, "with the standby down the Runner stopped at %v, before %v", runner.Status().Position, last)
	if replica.ReadingStandby() {
		t.Fatal("the replica reads a stopped standby")
	}

	if err := pair.Standby.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pair.WaitReplayed(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, replica.ReadingStandby,
		"the replica did not return to the restarted standby: %v", lastLagErr(replica))

	// A standby that stops replaying within MaxLagBytes keeps serving
	// reads; the Runner reports the distance to the primary's head as lag.
	if _, err := standby.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		res, err := store.Append(ctx, "paused", eventstore.Any, []eventstore.Event{tallies.Event(i)})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		st := runner.Status()
		return st.LagEvents > 0 && st.State == projection.StateCatchingUp && st.Head == last
	}, "the Runner does not report the paused standby as lag: %+v", runner.Status())
	// A probe calls it stalled once it has applied nothing for StallAfter.
	health, err := projection.NewHealthCheck(projection.RunnerStatuses(runner), &projection.HealthOptions{StallAfter: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return health.Check() != nil },
		"the health check passes while the standby's replay is paused: %+v", runner.Status())
	t.Logf("health check with replay paused: %v", health.Check())
	if _, err := standby.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	tallies.Check(t, store, rm, last)
	testenv.Eventually(t, 30*time.Second, func() bool { return health.Check() == nil },
		"the health check fails after replay resumed: %v", health.Check())
	if st := runner.Status(); st.Position != last {
		t.Fatalf("the Runner is at %v, want %v", st.Position, last)
	}
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
