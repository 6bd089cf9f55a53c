package readmodeltest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/readmodel"
	"github.com/google/go-cmp/cmp"
)

// testReaderSeesWholeBatches has a reader read while batches are applied:
// each batch moves three documents, their index entries and the checkpoint
// to the same revision. The reader never sees the documents at different
// revisions, nor a checkpoint behind documents it read before it.
func testReaderSeesWholeBatches(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("whole")
	ctx := context.Background()
	const batches = 60
	ids := []string{"a", "b", "c"}
	if cfg.PartitionOf != nil {
		ids = samePartition(cfg.PartitionOf, 3)
	}
	done := make(chan struct{})
	errs := make(chan error, 2)
	var reads atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := readWholeBatch(ctx, s, n, ids); err != nil {
				errs <- err
				return
			}
			reads.Add(1)
		}
	})
	for k := uint64(1); k <= batches; k++ {
		// Let the reader in between batches, so that its reads overlap
		// the next Apply even on a store that applies in microseconds.
		for r, until := reads.Load(), time.Now().Add(100*time.Millisecond); reads.Load() == r && time.Now().Before(until); {
			time.Sleep(20 * time.Microsecond)
		}
		var ws []write
		for _, id := range ids {
			ws = append(ws, put(id, k, fmt.Sprint(k), entry("rev", readmodel.Uint(k))))
		}
		if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: ws, Checkpoint: fmt.Sprint(k)}); err != nil {
			t.Fatalf("Apply(batch %d) = %v", k, err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// samePartition returns n document IDs of one partition.
func samePartition(partitionOf func(string) int, n int) []string {
	var ids []string
	for i := 0; len(ids) < n; i++ {
		if id := "d" + strconv.Itoa(i); partitionOf(id) == partitionOf("d0") {
			ids = append(ids, id)
		}
	}
	return ids
}

// readWholeBatch reads a document, the documents, the index, then the
// state, and checks that they come from whole batches.
func readWholeBatch(ctx context.Context, s readmodel.Reader, n readmodel.Namespace, ids []string) error {
	seen := uint64(0)
	if d, err := s.Get(ctx, n, ids[0]); err == nil {
		seen = d.Revision.Sequence
	} else if !errors.Is(err, readmodel.ErrNotFound) {
		return fmt.Errorf("Get while applying = %w", err)
	}
	got, err := s.GetMany(ctx, n, ids)
	if err != nil {
		return fmt.Errorf("GetMany while applying = %w", err)
	}
	for _, d := range got {
		if len(got) != len(ids) || d.Revision != got[0].Revision {
			return fmt.Errorf("GetMany while applying saw part of a batch: %v", docs(got))
		}
		seen = max(seen, d.Revision.Sequence)
	}
	p, err := s.Query(ctx, n, readmodel.All("rev"))
	if err != nil {
		return fmt.Errorf("Query while applying = %w", err)
	}
	for _, d := range p.Documents {
		if len(p.Documents) != len(ids) || d.Revision != p.Documents[0].Revision {
			return fmt.Errorf("Query while applying saw part of a batch: %v", docs(p.Documents))
		}
		seen = max(seen, d.Revision.Sequence)
	}
	st, err := s.State(ctx, n)
	if err != nil {
		return fmt.Errorf("State while applying = %w", err)
	}
	cp, _ := strconv.ParseUint(st.Checkpoint, 10, 64)
	if seen > 0 && cp < seen {
		return fmt.Errorf("State while applying has checkpoint %q after documents of batch %d were read: the checkpoint was not written with its documents", st.Checkpoint, seen)
	}
	return nil
}

// testRefusedBatchKeepsCheckpoint checks that a batch refused for its
// IfCheckpoint writes nothing: not its documents, not its checkpoint.
func testRefusedBatchKeepsCheckpoint(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("refused")
	ctx := context.Background()
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []write{put("a", 1, "a")}, Checkpoint: "c1"}); err != nil {
		t.Fatal(err)
	}
	stale, empty := "c0", ""
	for _, b := range []readmodel.Batch{
		{Writes: []write{put("x", 2, "x")}, Checkpoint: "c2", IfCheckpoint: &stale},
		{Checkpoint: "c3", IfCheckpoint: &empty},
		{Writes: []write{put("a", 3, "new")}, Checkpoint: "c4", IfCheckpoint: &stale},
	} {
		if _, err := s.Apply(ctx, n, b); !errors.Is(err, readmodel.ErrCheckpointMismatch) {
			t.Errorf("Apply(checkpoint %q if %q) on checkpoint c1 = %v, want ErrCheckpointMismatch", b.Checkpoint, *b.IfCheckpoint, err)
		}
		if st, err := s.State(ctx, n); err != nil || st != (readmodel.State{Initialized: true, Checkpoint: "c1"}) {
			t.Errorf("after a refused batch with checkpoint %q: State = %+v, %v; want checkpoint c1", b.Checkpoint, st, err)
		}
	}
	wantMissing(t, s, n, "x")
	wantDoc(t, s, n, doc{"a", "a", rev(1)})
}

// testPagingTies pages through many documents with one index value, whose
// IDs sort in tricky ways, at every page size: no tie is skipped or
// repeated across pages, either way.
func testPagingTies(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("ties")
	tieIDs := []string{"\x00", "a", "a\x00", "a\x00b", "a\x01", "ab", "b", "b:", "b\xff", "\xff"}
	vals := []readmodel.Value{readmodel.String("m")}
	ids := []string{"before"}
	for _, id := range tieIDs {
		vals, ids = append(vals, readmodel.String("n")), append(ids, id)
	}
	vals, ids = append(vals, readmodel.String("o")), append(ids, "after")
	ordered(t, s, n, "v", vals, ids)
	for _, q := range []readmodel.Query{readmodel.All("v"), readmodel.Equal("v", readmodel.String("n"))} {
		want := ids
		if !q.Min.IsZero() {
			want = tieIDs
		}
		for _, desc := range []bool{false, true} {
			w := slices.Clone(want)
			if desc {
				slices.Reverse(w)
			}
			for limit := 1; limit <= 4; limit++ {
				q.Limit, q.Descending = limit, desc
				if diff := cmp.Diff(w, queryAll(t, s, n, q)); diff != "" {
					t.Errorf("ties, min %q, descending %v, limit %d (-want +got):\n%s", q.Min.Key(), desc, limit, diff)
				}
			}
		}
	}
}

// testRebuildAfterDrop rebuilds a dropped namespace with other index
// values: the old entries are gone, so nothing is found under them and
// nothing is found twice.
func testRebuildAfterDrop(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("rebuilt")
	ctx := context.Background()
	apply(t, s, n, put("d1", 1, "old", entry("ix", readmodel.Int(1)), entry("tag", readmodel.String("x"))),
		put("d2", 1, "old", entry("ix", readmodel.Int(2))))
	if err := s.Drop(ctx, n); err != nil {
		t.Fatalf("Drop = %v", err)
	}
	for _, q := range []readmodel.Query{readmodel.All("ix"), readmodel.All("tag")} {
		if got := queryAll(t, s, n, q); len(got) != 0 {
			t.Errorf("after Drop: Query(%s) = %q, want nothing", q.Index, got)
		}
	}
	apply(t, s, n, put("d1", 1, "new", entry("ix", readmodel.Int(5))))
	checks := []struct {
		q    readmodel.Query
		want []string
	}{
		{readmodel.All("ix"), []string{"d1"}},
		{readmodel.Equal("ix", readmodel.Int(1)), []string{}},
		{readmodel.Equal("ix", readmodel.Int(5)), []string{"d1"}},
		{readmodel.All("tag"), []string{}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, queryAll(t, s, n, c.q)); diff != "" {
			t.Errorf("after Drop and rebuild: Query(%s, min %q) (-want +got):\n%s", c.q.Index, c.q.Min.Key(), diff)
		}
	}
	wantMissing(t, s, n, "d2")
}
