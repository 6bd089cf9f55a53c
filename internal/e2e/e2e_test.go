package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	tallies "github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// The tally projection and its fold are shared with the other integration
// tests.
type tally = tallies.Doc

func tallyProjection() *projection.Projection { return tallies.Projection() }

// The child process: a projector that runs until it is killed.
const (
	childEnv  = "EVENTFOLD_E2E_PROJECTOR"
	schemaEnv = "EVENTFOLD_E2E_SCHEMA"
	prefixEnv = "EVENTFOLD_E2E_PREFIX"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := runProjector(context.Background(), os.Getenv(schemaEnv), os.Getenv(prefixEnv), 50); err != nil {
			fmt.Fprintln(os.Stderr, "projector:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runProjector(ctx context.Context, schema, prefix string, batch int) error {
	pool, err := pgxpool.New(ctx, testenv.PostgresURL())
	if err != nil {
		return err
	}
	defer pool.Close()
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		return err
	}
	opts, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		return err
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	rm, err := redisstore.New(rc, &redisstore.Options{Prefix: prefix})
	if err != nil {
		return err
	}
	r, err := projection.NewRunner(projection.Config{Projection: tallyProjection(), Source: projection.LogSource(store, nil), Store: rm, BatchSize: batch})
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

type env struct {
	pool   *pgxpool.Pool
	schema string
	store  *pgstore.Store
	rm     *redisstore.Store
	prefix string
}

func setup(t *testing.T) env {
	t.Helper()
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	rc, prefix := testenv.Redis(t)
	prefix = strings.NewReplacer("{", "", "}", "").Replace(prefix) + ":"
	rm, err := redisstore.New(rc, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return env{pool: pool, schema: schema, store: store, rm: rm, prefix: prefix}
}

// writeConcurrently appends from several writers, with one transaction held
// open while the others commit (the gap scenario), and returns the last
// position.
func (e env) writeConcurrently(t *testing.T, writers, appends int, pause time.Duration) eventstore.Position {
	t.Helper()
	ctx := t.Context()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inTx, _ := pgstore.New(tx, &pgstore.Options{Schema: e.schema})
	if _, err := inTx.Append(ctx, "slow", eventstore.Any, []eventstore.Event{{Type: "Added", Data: []byte(`{"N":1000}`)}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var last eventstore.Position
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < appends; i++ {
				events := []eventstore.Event{{Type: "Added", Data: []byte(fmt.Sprintf(`{"N":%d}`, i))}}
				if i%3 == 0 {
					events = append(events, eventstore.Event{Type: "Added", Data: []byte(`{"N":1}`)})
				}
				res, err := e.store.Append(ctx, fmt.Sprintf("w-%d", w), eventstore.Any, events)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if last.Before(res.Position) {
					last = res.Position
				}
				mu.Unlock()
				if pause > 0 {
					time.Sleep(pause)
				}
			}
		}()
	}
	wg.Wait()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return last
}

func (e env) check(t *testing.T, last eventstore.Position) {
	t.Helper()
	tallies.Check(t, e.store, e.rm, last)
}

// TestInProcess: concurrent writers (gap scenario included) and a runner in
// the same process; the read model equals a fold of the store.
func TestInProcess(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); runProjector(ctx, e.schema, e.prefix, 64) }() //nolint:errcheck
	last := e.writeConcurrently(t, 8, 40, 0)
	e.check(t, last)
}

// TestProjectorKilled kills projector processes with SIGKILL at random
// points while writers append; after a final restart the read model equals
// a fold of the store, with no event applied twice.
// checkpointNS is the namespace of the tallies projection's documents.
var checkpointNS = readmodel.Namespace{Projection: "tallies", Version: "1"}

func TestProjectorKilled(t *testing.T) {
	e := setup(t)
	done := make(chan eventstore.Position, 1)
	go func() { done <- e.writeConcurrently(t, 4, 60, 2*time.Millisecond) }()
	kills := 0
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", schemaEnv+"="+e.schema, prefixEnv+"="+e.prefix)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			// On a busy machine a child may take longer to start than a
			// random kill leaves it: let the first one commit something.
			testenv.Eventually(t, 60*time.Second, func() bool {
				_, err := e.rm.Get(t.Context(), checkpointNS, "$checkpoint/0")
				return err == nil
			}, "the first projector committed nothing")
		}
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		_ = cmd.Wait()
	}
	last := <-done
	t.Logf("killed the projector %d times", kills)
	// The killed projectors did commit work: the final run resumes, it does
	// not start over.
	if _, err := e.rm.Get(t.Context(), checkpointNS, "$checkpoint/0"); err != nil {
		t.Fatalf("no checkpoint after the killed runs: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	finished := make(chan struct{})
	go func() { defer close(finished); runProjector(ctx, e.schema, e.prefix, 50) }() //nolint:errcheck
	e.check(t, last)
	cancel()
	<-finished
}
