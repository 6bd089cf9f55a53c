package projection_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/projection"
)

// memLeaser is an in-process projection.Leaser: a lease ends when released
// or when its holder's "process" (kill) ends.
type memLeaser struct {
	mu   sync.Mutex
	held map[string]context.CancelFunc
}

func (l *memLeaser) TryLock(ctx context.Context, name string) (context.Context, func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[string]context.CancelFunc{}
	}
	if _, taken := l.held[name]; taken {
		return nil, nil, false, nil
	}
	held, cancel := context.WithCancel(ctx)
	l.held[name] = cancel
	var once sync.Once
	release := func() {
		once.Do(func() {
			cancel()
			l.mu.Lock()
			delete(l.held, name)
			l.mu.Unlock()
		})
	}
	go func() { <-held.Done(); release() }() // the holder died
	return held, release, true, nil
}

func startGroup(t *testing.T, cfg projection.GroupConfig) (*projection.Group, func()) {
	t.Helper()
	g, err := projection.NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }() //nolint:errcheck
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return g, stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestGroupRebalances adds and removes processes of a 4-partition projection
// under live writes: the partitions spread evenly, each has exactly one
// owner, and the read model ends equal to the fold.
func TestGroupRebalances(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	leaser := &memLeaser{}
	cfg := projection.GroupConfig{
		Config:    projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm, Partitions: 4, BatchSize: 20},
		Leaser:    leaser,
		Rebalance: 5 * time.Millisecond,
	}
	var streams []string
	stopWrites := make(chan struct{})
	var writes sync.WaitGroup
	writes.Add(1)
	go func() {
		defer writes.Done()
		for i := 0; ; i++ {
			select {
			case <-stopWrites:
				return
			default:
			}
			_, s := appendAccountsFrom(t, es, i, 1, 2)
			streams = append(streams, s...)
			time.Sleep(200 * time.Microsecond)
		}
	}()

	a, _ := startGroup(t, cfg)
	eventually(t, "A to own all 4 partitions", func() bool { return len(a.Owned()) == 4 })
	b, stopB := startGroup(t, cfg)
	eventually(t, "A and B to own 2 each", func() bool { return len(a.Owned()) == 2 && len(b.Owned()) == 2 })
	if overlap(a.Owned(), b.Owned()) {
		t.Fatalf("A %v and B %v own a partition together", a.Owned(), b.Owned())
	}
	c, stopC := startGroup(t, cfg)
	eventually(t, "three members to share 4 partitions", func() bool {
		return len(a.Owned())+len(b.Owned())+len(c.Owned()) == 4 && len(a.Owned()) <= 2 && len(b.Owned()) <= 2 && len(c.Owned()) <= 2
	})
	stopB()
	stopC()
	eventually(t, "A to own all 4 again", func() bool { return len(a.Owned()) == 4 })

	close(stopWrites)
	writes.Wait()
	waitFor(t, rm, "balances", lastPosition(t, es))
	ns, err := projection.Active(t.Context(), rm, "balances", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fold(t, es), readAll(t, rm, ns, streams)); diff != "" {
		t.Errorf("after rebalancing the read model differs from the fold (-want +got):\n%s", diff)
	}
}

func overlap(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func TestNewGroupValidates(t *testing.T) {
	if _, err := projection.NewGroup(projection.GroupConfig{}); err == nil {
		t.Fatal("NewGroup with an empty config succeeded")
	}
	_, err := projection.NewGroup(projection.GroupConfig{Config: projection.Config{Projection: balances("1"), Source: projection.LogSource(memstore.New(nil), nil), Store: memstore.NewReadModels(nil), Partitions: 2}})
	if err == nil {
		t.Fatal("NewGroup without a Leaser succeeded")
	}
}

// When a newer version takes over, a Group of the old one retires: its Run
// ends with ErrRetired once every partition has stopped, instead of
// restarting runners that would only retire again.
func TestGroupRetiresWhenANewerVersionIsActive(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	last, _ := appendAccountsFrom(t, es, 0, 4, 2)
	g, err := projection.NewGroup(projection.GroupConfig{
		Config:    projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm, Partitions: 2},
		Leaser:    &memLeaser{},
		Rebalance: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(t.Context()) }()
	waitFor(t, rm, "balances", last)

	v2, _ := startRunner(t, projection.Config{Projection: balances("2"), Source: projection.LogSource(es, nil), Store: rm})
	eventually(t, "version 2 to become active", func() bool { return v2.Status().Active })
	select {
	case err := <-done:
		if !errors.Is(err, projection.ErrRetired) {
			t.Fatalf("the version 1 group ended with %v, want ErrRetired", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the version 1 group did not retire: %s", g)
	}
	if owned := g.Owned(); len(owned) != 0 {
		t.Errorf("a retired group still owns %v", owned)
	}
}
