package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// replicaEnv is a store on a primary of its own, migrated into a fresh
// schema, and a Replica of it on the primary's hot standby.
type replicaEnv struct {
	pair     *testenv.PGPair
	primary  *pgxpool.Pool
	standby  *pgxpool.Pool
	store    *pgstore.Store
	replica  *pgstore.Replica
	schemaNo int
}

func newReplicaEnv(t *testing.T) *replicaEnv {
	t.Helper()
	e := &replicaEnv{pair: testenv.PGStandby(t)}
	e.primary = pairPool(t, e.pair.Primary.URL())
	e.standby = pairPool(t, e.pair.Standby.URL())
	return e
}

func pairPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// fresh migrates a new schema and returns its store and a Replica of it.
func (e *replicaEnv) fresh(t *testing.T, ropts *pgstore.ReplicaOptions) (*pgstore.Store, *pgstore.Replica) {
	t.Helper()
	e.schemaNo++
	opts := e.opts()
	if err := pgstore.Migrate(t.Context(), e.primary, opts); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(e.primary, opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.WithReplica(e.standby, ropts)
	if err != nil {
		t.Fatal(err)
	}
	e.replicated(t)
	return s, r
}

// opts are the Options of the store fresh made last.
func (e *replicaEnv) opts() *pgstore.Options {
	return &pgstore.Options{Schema: fmt.Sprintf("replica_%d", e.schemaNo)}
}

func (e *replicaEnv) replicated(t *testing.T) {
	t.Helper()
	if err := e.pair.WaitReplayed(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// tailAll reads r's log after *after until a read returns nothing.
func tailAll(t *testing.T, r eventstore.Store, after *eventstore.Position, limit int) []eventstore.Record {
	t.Helper()
	var out []eventstore.Record
	for {
		recs, err := r.ReadAll(t.Context(), *after, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
		*after = recs[len(recs)-1].Position
	}
}

// TestReplica runs the standby scenarios on one primary and standby.
func TestReplica(t *testing.T) {
	e := newReplicaEnv(t)
	t.Run("HeldTransaction", func(t *testing.T) { testReplicaHeldTransaction(t, e) })
	t.Run("ConcurrentTailers", func(t *testing.T) { testReplicaConcurrentTailers(t, e) })
	t.Run("StandbyBehind", func(t *testing.T) { testReplicaBehind(t, e) })
	t.Run("StandbyDown", func(t *testing.T) { testReplicaDown(t, e) })
}

// testReplicaHeldTransaction: a transaction on the primary takes its ID
// and writes nothing (so no WAL record names it) while later appends
// commit and a checkpoint logs the running transactions; the reader on the
// standby must not pass its position. Once it appends and commits, the
// reader sees it, in order, and every event once.
func testReplicaHeldTransaction(t *testing.T, e *replicaEnv) {
	ctx := t.Context()
	s, r := e.fresh(t, &pgstore.ReplicaOptions{MaxLagBytes: 1 << 40})
	if _, err := s.Append(ctx, "before", eventstore.Any, []eventstore.Event{{Type: "E", Data: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	tx, err := e.primary.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	var heldXID uint64
	if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text::bigint").Scan(&heldXID); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.Append(ctx, fmt.Sprintf("fast-%d", i), eventstore.Any, []eventstore.Event{{Type: "E", Data: []byte("{}")}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.primary.Exec(ctx, "CHECKPOINT"); err != nil { // logs the running transactions
		t.Fatal(err)
	}
	e.replicated(t)

	var after eventstore.Position
	seen := tailAll(t, r, &after, 2)
	if !r.ReadingStandby() {
		t.Fatalf("the replica reads the primary; last lag measurement: %v", lastLagErr(r))
	}
	if len(seen) != 1 || seen[0].StreamID != "before" {
		t.Fatalf("while the transaction %d was open on the primary the standby reader saw %v, want only before", heldXID, streams(seen))
	}
	if after.Commit >= heldXID {
		t.Fatalf("the standby reader's position %v passed the open transaction %d", after, heldXID)
	}

	inTx, err := pgstore.New(tx, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	slow, err := inTx.Append(ctx, "slow", eventstore.Any, []eventstore.Event{{Type: "E", Data: []byte("{}")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.replicated(t)
	seen = append(seen, tailAll(t, r, &after, 2)...)
	want := []string{"before", "slow", "fast-0", "fast-1", "fast-2", "fast-3", "fast-4"}
	if got := streams(seen); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the standby reader saw %v, want %v", got, want)
	}
	if seen[1].Position != slow.Position {
		t.Fatalf("slow event at %v, want %v", seen[1].Position, slow.Position)
	}
	if !r.ReadingStandby() {
		t.Fatal("the replica moved to the primary")
	}
}

// testReplicaConcurrentTailers: writers append concurrently on the primary
// while several tailers read the standby; each sees every event once, in
// log order.
func testReplicaConcurrentTailers(t *testing.T, e *replicaEnv) {
	ctx := t.Context()
	s, r := e.fresh(t, &pgstore.ReplicaOptions{MaxLagBytes: 1 << 40})
	const writers, appends, tailers = 4, 50, 3
	total := writers * appends
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appends {
				// Two streams per writer, so appends to one stream race.
				stream := fmt.Sprintf("s-%d", (w+i)%(writers/2))
				if _, err := s.Append(ctx, stream, eventstore.Any, []eventstore.Event{{Type: "E", Data: fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	results := make([][]eventstore.Record, tailers)
	for k := range tailers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var after eventstore.Position
			deadline := time.Now().Add(60 * time.Second)
			for len(results[k]) < total && time.Now().Before(deadline) {
				recs, err := r.ReadAll(ctx, after, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(recs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				results[k] = append(results[k], recs...)
				after = recs[len(recs)-1].Position
			}
		}()
	}
	wg.Wait()
	if !r.ReadingStandby() {
		t.Fatalf("the replica reads the primary; last lag measurement: %v", lastLagErr(r))
	}
	for k, got := range results {
		ids := map[string]bool{}
		for i, rec := range got {
			if ids[rec.ID] {
				t.Fatalf("tailer %d saw event %s twice", k, rec.ID)
			}
			ids[rec.ID] = true
			if i > 0 && !got[i-1].Position.Before(rec.Position) {
				t.Fatalf("tailer %d: %v after %v", k, rec.Position, got[i-1].Position)
			}
		}
		if len(got) != total {
			t.Fatalf("tailer %d saw %d events, want %d", k, len(got), total)
		}
	}
	var after eventstore.Position
	final := tailAll(t, s, &after, 0)
	for k, got := range results {
		for i := range final {
			if got[i].ID != final[i].ID {
				t.Fatalf("tailer %d: event %d is %s, the primary's log has %s", k, i, got[i].ID, final[i].ID)
			}
		}
	}
}

// testReplicaBehind: with replay paused on the standby, a reader with a
// small MaxLagBytes moves to the primary and sees new events there; one
// with a large bound stays on the standby and sees none, while Lag reports
// the distance. After replay resumes, the first one returns to the
// standby.
func testReplicaBehind(t *testing.T, e *replicaEnv) {
	ctx := t.Context()
	s, near := e.fresh(t, &pgstore.ReplicaOptions{MaxLagBytes: 1024, CheckInterval: time.Millisecond})
	far, err := s.WithReplica(e.standby, &pgstore.ReplicaOptions{MaxLagBytes: 1 << 40, CheckInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var nearAt, farAt eventstore.Position
	tailAll(t, near, &nearAt, 0)
	tailAll(t, far, &farAt, 0)
	if !near.ReadingStandby() || !far.ReadingStandby() {
		t.Fatal("the replicas read the primary before the standby fell behind")
	}
	if _, err := e.standby.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if _, err := e.standby.Exec(context.Background(), "SELECT pg_wal_replay_resume()"); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()
	for i := range 20 {
		if _, err := s.Append(ctx, "behind", eventstore.Any, []eventstore.Event{{Type: "E", Data: fmt.Appendf(nil, `{"pad":"%0*d"}`, 200+i, i)}}); err != nil {
			t.Fatal(err)
		}
	}
	lag, err := far.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Bytes <= 1024 {
		t.Fatalf("Lag().Bytes = %d with replay paused after 20 appends, want more than 1024", lag.Bytes)
	}
	if got := tailAll(t, far, &farAt, 0); len(got) != 0 {
		t.Fatalf("the far replica saw %d events the paused standby has not replayed", len(got))
	}
	if got := tailAll(t, near, &nearAt, 0); len(got) != 20 {
		t.Fatalf("the near replica saw %d events, want 20 read from the primary", len(got))
	}
	if near.ReadingStandby() {
		t.Fatal("the near replica still reads the standby, which is behind")
	}

	resume()
	e.replicated(t)
	time.Sleep(2 * time.Millisecond) // past CheckInterval
	if got := tailAll(t, near, &nearAt, 0); len(got) != 0 {
		t.Fatalf("the near replica saw %d events again after returning to the standby", len(got))
	}
	if !near.ReadingStandby() {
		t.Fatalf("the near replica did not return to the standby; last lag measurement: %v", lastLagErr(near))
	}
	if got := tailAll(t, far, &farAt, 0); len(got) != 20 {
		t.Fatalf("the far replica saw %d events after replay resumed, want 20", len(got))
	}
}

// testReplicaDown: with the standby stopped, reads move to the primary
// and lose nothing; after a restart they return to the standby.
func testReplicaDown(t *testing.T, e *replicaEnv) {
	ctx := t.Context()
	s, r := e.fresh(t, &pgstore.ReplicaOptions{CheckInterval: time.Millisecond})
	var at eventstore.Position
	tailAll(t, r, &at, 0)
	e.pair.Standby.Stop()
	restarted := false
	defer func() {
		if !restarted {
			if err := e.pair.Standby.Start(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}()
	for i := range 5 {
		if _, err := s.Append(ctx, "down", eventstore.Any, []eventstore.Event{{Type: "E", Data: fmt.Appendf(nil, `{"n":%d}`, i)}}); err != nil {
			t.Fatal(err)
		}
	}
	got := tailAll(t, r, &at, 2)
	if len(got) != 5 {
		t.Fatalf("with the standby down the replica saw %d events, want 5 from the primary", len(got))
	}
	if r.ReadingStandby() {
		t.Fatal("the replica reads a stopped standby")
	}
	if _, err := r.LastLag(); err == nil {
		t.Fatal("LastLag reports no error with the standby down")
	}
	if _, err := r.Lag(ctx); err == nil {
		t.Fatal("Lag reports no error with the standby down")
	}

	restarted = true
	if err := e.pair.Standby.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "down", eventstore.Any, []eventstore.Event{{Type: "E", Data: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	e.replicated(t)
	testenv.Eventually(t, 10*time.Second, func() bool {
		got = append(got, tailAll(t, r, &at, 2)...)
		return r.ReadingStandby()
	}, "the replica did not return to the restarted standby: %v", lastLagErr(r))
	got = append(got, tailAll(t, r, &at, 2)...)
	if len(got) != 6 {
		t.Fatalf("the replica saw %d events in all, want 6", len(got))
	}
}

func lastLagErr(r *pgstore.Replica) error {
	_, err := r.LastLag()
	return err
}

func streams(recs []eventstore.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.StreamID
	}
	return out
}
