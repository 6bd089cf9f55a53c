package projection_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// servingAll reads the accounts of streams through the Reader Serving
// returns.
func servingAll(t *testing.T, rm readmodel.Reader, streams []string) map[string]account {
	t.Helper()
	r, ns, err := projection.Serving(t.Context(), rm, "balances", "")
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, r, ns, streams)
}

// TestSpreadPartitionsEqualTheFold runs a spread read model: each
// partition's documents live in the partition's own namespace, and reads
// through Serving (Get, GetMany, merged queries) and WaitFor see the whole.
func TestSpreadPartitionsEqualTheFold(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, streams := appendAccounts(t, es, 40, 4)
	const n = 4
	for k := range n {
		startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm,
			Partitions: n, Partition: k, Spread: true, BatchSize: 16})
	}
	waitFor(t, rm, "balances", token)
	want := fold(t, es)
	if diff := cmp.Diff(want, servingAll(t, rm, streams)); diff != "" {
		t.Errorf("spread read model differs from the fold (-want +got):\n%s", diff)
	}
	whole := readmodel.Namespace{Projection: "balances", Version: "1"}
	if got := readAll(t, rm, whole, streams); len(got) != 0 {
		t.Errorf("the namespace kept whole holds %d documents, want none", len(got))
	}
	for _, s := range streams {
		k := readmodel.PartitionOf(s, n)
		if _, err := rm.Get(t.Context(), whole.WithPartition(k, n), s); err != nil {
			t.Errorf("document %s not in its partition %d: %v", s, k, err)
		}
	}

	r, ns, err := projection.Serving(t.Context(), rm, "balances", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(readmodel.Writer); ok {
		t.Error("Serving returned a Reader that is also a Writer")
	}
	q := readmodel.Equal("owner", readmodel.String("owner-1"))
	q.Limit = 3
	var found []string
	for {
		page, err := accounts.View(r, ns).Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			found = append(found, it.ID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	var wantOwner1 []string
	for _, s := range streams {
		if want[s].Owner == "owner-1" {
			wantOwner1 = append(wantOwner1, s)
		}
	}
	// Index order: one value, so by document ID.
	slices.Sort(wantOwner1)
	if diff := cmp.Diff(wantOwner1, found); diff != "" {
		t.Errorf("owner-1 over the partitions (-want +got):\n%s", diff)
	}
	cps, err := projectionops.Checkpoints(t.Context(), rm, "balances", "")
	if err != nil || len(cps) != n {
		t.Fatalf("Checkpoints = %v, %v; want %d", cps, err, n)
	}
	for k, cp := range cps {
		if cp.Before(token) {
			t.Errorf("partition %d checkpoint %v is before the token %v WaitFor returned for", k, cp, token)
		}
	}
}

// TestSpreadHandlerWritingAnotherPartitionFaults: in a spread read model a
// handler writes only its own partition's documents.
func TestSpreadHandlerWritingAnotherPartitionFaults(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	p := projection.New("named", "1", nil)
	p.On("Named", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		tx.Put("summary-of-"+rec.StreamID, rec.Data)
		return nil
	})
	stream := "s-0"
	for i := 0; readmodel.PartitionOf("summary-of-"+stream, 2) == readmodel.PartitionOf(stream, 2); i++ {
		stream = fmt.Sprint("s-", i)
	}
	if _, err := es.Append(t.Context(), stream, eventstore.NoStream, []eventstore.Event{{Type: "Named", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	r, _ := startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm,
		Partitions: 2, Partition: readmodel.PartitionOf(stream, 2), Spread: true, MaxAttempts: 1})
	eventually(t, "a fault", func() bool { return r.Status().State == projection.StateFaulted })
	if f := r.Status().Fault; f == nil || !strings.Contains(f.Err, "belongs to partition") {
		t.Errorf("Fault = %+v; want the write to another partition", f)
	}
}

// losingStore acknowledges some commits of one namespace without applying
// them, as Redis does when a master acknowledges writes and fails before
// its replica, promoted in its place, received them.
type losingStore struct {
	readmodel.Store
	target readmodel.Namespace
	mu     sync.Mutex
	seen   int   // commits with documents to target
	lose   []int // which of them to lose, counting from 1
	lost   int
}

func (s *losingStore) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	if ns == s.target && len(b.Writes) > 1 {
		s.mu.Lock()
		s.seen++
		lose := len(s.lose) > 0 && s.lose[0] == s.seen
		if lose {
			s.lose = s.lose[1:]
			s.lost++
		}
		s.mu.Unlock()
		if lose {
			if _, err := s.Store.State(ctx, ns); err != nil {
				return readmodel.Result{}, err
			}
			return readmodel.Result{Applied: len(b.Writes)}, nil
		}
	}
	return s.Store.Apply(ctx, ns, b)
}

// TestSpreadLostCommitsAreRedone loses acknowledged commits of one
// partition, in the middle of catching up and as its last commit: the
// partition notices at its next commit, or by its idle check, resumes from
// what the store kept, and the read model converges on the fold.
func TestSpreadLostCommitsAreRedone(t *testing.T) {
	es := memstore.New(nil)
	token, streams := appendAccounts(t, es, 30, 6)
	const n = 3
	whole := readmodel.Namespace{Projection: "balances", Version: "1"}
	rm := &losingStore{Store: memstore.NewReadModels(nil), target: whole.WithPartition(1, n), lose: []int{3, 4, 9}}
	for k := range n {
		startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm,
			Partitions: n, Partition: k, Spread: true, BatchSize: 10})
	}
	waitFor(t, rm, "balances", token)
	// The last commit of partition 1 is lost too, once the runner is idle.
	res, err := es.Append(t.Context(), streamOf(streams, 1, n), eventstore.Exact(7), []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":1000}`)}})
	if err != nil {
		t.Fatal(err)
	}
	rm.mu.Lock()
	rm.lose = []int{rm.seen + 1}
	rm.mu.Unlock()
	waitFor(t, rm, "balances", res.Position)
	eventually(t, "the lost last commit to be redone", func() bool {
		return cmp.Equal(fold(t, es), servingAll(t, rm, streams))
	})
	if rm.lost != 4 {
		t.Errorf("lost %d commits, want 4 (the test lost fewer than it meant to)", rm.lost)
	}
}

// streamOf returns a stream of streams in partition k of n.
func streamOf(streams []string, k, n int) string {
	for _, s := range streams {
		if readmodel.PartitionOf(s, n) == k {
			return s
		}
	}
	panic("no stream in partition " + fmt.Sprint(k))
}

// TestSpreadVersionReplacesAWholeOne switches a projection from a read
// model kept whole to a spread one, and then to a rebuilt generation of it:
// each switch drops the version it replaces, every partition of it.
func TestSpreadVersionReplacesAWholeOne(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, streams := appendAccounts(t, es, 20, 3)
	v1, stopV1 := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm})
	waitFor(t, rm, "balances", token)
	const n = 3
	var v2 []*projection.Runner
	for k := range n {
		r, _ := startRunner(t, projection.Config{Projection: balances("2"), Source: projection.LogSource(es, nil), Store: rm,
			Partitions: n, Partition: k, Spread: true})
		v2 = append(v2, r)
	}
	eventually(t, "version 2 to become active", func() bool { return v2[0].Status().Active })
	eventually(t, "version 1 to retire", func() bool { return v1.Status().State == projection.StateStopped })
	if err := stopV1(); !errors.Is(err, projection.ErrRetired) {
		t.Errorf("version 1 ended with %v, want ErrRetired", err)
	}
	if st, _ := rm.State(t.Context(), readmodel.Namespace{Projection: "balances", Version: "1"}); st.Initialized {
		t.Error("version 1 was not dropped")
	}
	if diff := cmp.Diff(fold(t, es), servingAll(t, rm, streams)); diff != "" {
		t.Errorf("version 2 differs from the fold (-want +got):\n%s", diff)
	}

	b, err := projection.NewRebuild(t.Context(), projection.Config{Projection: balances("2"), Source: projection.LogSource(es, nil), Store: rm, Partitions: n, Spread: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(t.Context()); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	for k := range n {
		if st, _ := rm.State(t.Context(), readmodel.Namespace{Projection: "balances", Version: "2"}.WithPartition(k, n)); st.Initialized {
			t.Errorf("partition %d of version 2 was not dropped after the rebuild", k)
		}
	}
	eventually(t, "the runners to follow the rebuild", func() bool { return v2[n-1].Status().Version == b.Version() })
	res, err := es.Append(t.Context(), streams[0], eventstore.Exact(4), []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":7}`)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", res.Position)
	if diff := cmp.Diff(fold(t, es), servingAll(t, rm, streams)); diff != "" {
		t.Errorf("the rebuilt generation differs from the fold (-want +got):\n%s", diff)
	}
}

// TestSpreadGroupsSharePartitions runs a spread read model in two Groups:
// they share the partitions, and the read model equals the fold.
func TestSpreadGroupsSharePartitions(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	cfg := projection.GroupConfig{
		Config: projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm,
			Partitions: 4, Spread: true, BatchSize: 20},
		Leaser:    &memLeaser{},
		Rebalance: 5 * time.Millisecond,
	}
	a, _ := startGroup(t, cfg)
	b, _ := startGroup(t, cfg)
	eventually(t, "A and B to own 2 each", func() bool { return len(a.Owned()) == 2 && len(b.Owned()) == 2 })
	token, streams := appendAccounts(t, es, 30, 3)
	waitFor(t, rm, "balances", token)
	if diff := cmp.Diff(fold(t, es), servingAll(t, rm, streams)); diff != "" {
		t.Errorf("spread read model run by two groups differs from the fold (-want +got):\n%s", diff)
	}
}
