package readmodeltest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/readmodel"
	"github.com/google/go-cmp/cmp"
)

// Config describes the implementation under test.
type Config struct {
	// New returns an empty Store isolated from all other calls. It is
	// called once per subtest and registers its own cleanup with
	// t.Cleanup.
	New func(t testing.TB) readmodel.Store
	// PartitionOf, when set, says that the store commits a batch
	// atomically per partition only, as readmodel.Partitioned does, and
	// returns the partition of a document: the tests that readers never
	// see part of a batch then write documents of one partition.
	PartitionOf func(id string) int
}

// Run runs the conformance suite as parallel subtests of t.
func Run(t *testing.T, cfg Config) {
	if cfg.New == nil {
		t.Fatal("readmodeltest: Config.New is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Config)
	}{
		{"Apply/RoundTrip", testRoundTrip},
		{"Apply/Update", testUpdate},
		{"Apply/Delete", testDelete},
		{"Apply/Ownership", testOwnership},
		{"Apply/InvalidInput", testInvalidInput},
		{"Apply/Canceled", testCanceled},
		{"GetMany", testGetMany},
		{"Guard/Stale", testGuardStale},
		{"Guard/Tombstone", testGuardTombstone},
		{"Guard/WithinBatch", testGuardWithinBatch},
		{"Guard/Position", testGuardPosition},
		{"Guard/StaleKeepsIndex", testGuardStaleKeepsIndex},
		{"Guard/ReorderedAndDuplicated", testGuardReordered},
		{"Index/Equal", testIndexEqual},
		{"Index/Range", testIndexRange},
		{"Index/Order", testIndexOrder},
		{"Index/Pagination", testIndexPagination},
		{"Index/CursorAfterChanges", testIndexCursorAfterChanges},
		{"Index/StaleEntries", testIndexStaleEntries},
		{"Index/MultiValued", testIndexMultiValued},
		{"Index/Unknown", testIndexUnknown},
		{"Index/InvalidQuery", testIndexInvalidQuery},
		{"Index/ValueLimit", testIndexValueLimit},
		{"Namespace/Isolation", testNamespaceIsolation},
		{"Namespace/State", testNamespaceState},
		{"Namespace/Drop", testNamespaceDrop},
		{"Namespace/ConditionalCheckpoint", testConditionalCheckpoint},
		{"Hostile/IDs", testHostileIDs},
		{"Hostile/Indexes", testHostileIndexes},
		{"Concurrent", testConcurrent},
		{"Model", testModel},
		{"ReadOnly", testReadOnly},
		{"Apply/ReaderSeesWholeBatches", testReaderSeesWholeBatches},
		{"Apply/RefusedKeepsCheckpoint", testRefusedBatchKeepsCheckpoint},
		{"Index/PagingTies", testPagingTies},
		{"Namespace/RebuildAfterDrop", testRebuildAfterDrop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, cfg)
		})
	}
}

type write = readmodel.Write

// hostile holds strings that break naive key schemes.
var hostile = []string{
	":", "::", "{", "}", "{}", "}{", "{a}", "*", "?", "[a]", "\\", " ", "a b",
	"\n", "\r\n", "\t", "\x00", "a\x00", "\xff", "\xff\xff", "%", "%41", "A",
	"%3A", "a:b", "a%3Ab", "d:x", "i:x", "m", "@", "/", "é", "日本",
}

func ns(p string) readmodel.Namespace { return readmodel.Namespace{Projection: p, Version: "v1"} }

func rev(n uint64) readmodel.Revision { return readmodel.Revision{Sequence: n} }

func put(id string, r uint64, data string, entries ...readmodel.Entry) readmodel.Write {
	return readmodel.Write{ID: id, Revision: rev(r), Data: []byte(data), Entries: entries}
}

func del(id string, r uint64) readmodel.Write {
	return readmodel.Write{ID: id, Revision: rev(r), Delete: true}
}

func entry(index string, v readmodel.Value) readmodel.Entry {
	return readmodel.Entry{Index: index, Value: v}
}

func apply(t testing.TB, s readmodel.Store, n readmodel.Namespace, writes ...readmodel.Write) readmodel.Result {
	t.Helper()
	res, err := s.Apply(context.Background(), n, readmodel.Batch{Writes: writes})
	if err != nil {
		t.Fatalf("Apply(%v, %d writes) = %v", n, len(writes), err)
	}
	return res
}

// doc is a comparable summary of a Document.
type doc struct {
	ID   string
	Data string
	Rev  readmodel.Revision
}

func docs(ds []readmodel.Document) []doc {
	out := make([]doc, 0, len(ds))
	for _, d := range ds {
		out = append(out, doc{d.ID, string(d.Data), d.Revision})
	}
	return out
}

func get(t testing.TB, s readmodel.Reader, n readmodel.Namespace, id string) (doc, bool) {
	t.Helper()
	d, err := s.Get(context.Background(), n, id)
	if errors.Is(err, readmodel.ErrNotFound) {
		return doc{}, false
	}
	if err != nil {
		t.Fatalf("Get(%v, %q) = %v", n, id, err)
	}
	return doc{d.ID, string(d.Data), d.Revision}, true
}

func wantDoc(t testing.TB, s readmodel.Reader, n readmodel.Namespace, want doc) {
	t.Helper()
	got, ok := get(t, s, n, want.ID)
	if !ok {
		t.Fatalf("Get(%v, %q): not found, want %+v", n, want.ID, want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Get(%v, %q) mismatch (-want +got):\n%s", n, want.ID, diff)
	}
}

func wantMissing(t testing.TB, s readmodel.Reader, n readmodel.Namespace, id string) {
	t.Helper()
	if got, ok := get(t, s, n, id); ok {
		t.Fatalf("Get(%v, %q) = %+v, want ErrNotFound", n, id, got)
	}
}

func query(t testing.TB, s readmodel.Reader, n readmodel.Namespace, q readmodel.Query) readmodel.Page {
	t.Helper()
	p, err := s.Query(context.Background(), n, q)
	if err != nil {
		t.Fatalf("Query(%v, %+v) = %v", n, q, err)
	}
	return p
}

// queryAll follows cursors to the end and returns the IDs found.
func queryAll(t testing.TB, s readmodel.Reader, n readmodel.Namespace, q readmodel.Query) []string {
	t.Helper()
	ids := []string{}
	for range 10000 {
		p := query(t, s, n, q)
		if len(p.Entries) != len(p.Documents) {
			t.Fatalf("Query(%+v) returned %d documents and %d entries", q, len(p.Documents), len(p.Entries))
		}
		for i, d := range p.Documents {
			if id, ok := readmodel.EntryID(p.Entries[i]); !ok || id != d.ID {
				t.Fatalf("Query(%+v): document %q came with entry %q", q, d.ID, p.Entries[i])
			}
			ids = append(ids, d.ID)
		}
		if p.Next == "" {
			return ids
		}
		if len(p.Documents) == 0 {
			t.Fatalf("Query(%+v) returned an empty page with a cursor", q)
		}
		q.Cursor = p.Next
	}
	t.Fatalf("Query(%+v) did not end", q)
	return nil
}

func testRoundTrip(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	res := apply(t, s, n, put("o1", 1, `{"total":42}`), put("o2", 2, ""))
	if diff := cmp.Diff(readmodel.Result{Applied: 2}, res); diff != "" {
		t.Errorf("Apply result mismatch (-want +got):\n%s", diff)
	}
	wantDoc(t, s, n, doc{"o1", `{"total":42}`, rev(1)})
	wantDoc(t, s, n, doc{"o2", "", rev(2)})
	wantMissing(t, s, n, "o3")
	_, err := s.Get(context.Background(), n, "o3")
	if !errors.Is(err, readmodel.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	big := strings.Repeat("x", 1<<20)
	apply(t, s, n, put("big", 1, big))
	if got, _ := get(t, s, n, "big"); got.Data != big {
		t.Errorf("Get(big) returned %d bytes, want %d", len(got.Data), len(big))
	}
	long := strings.Repeat("k", readmodel.MaxIDBytes)
	apply(t, s, n, put(long, 1, "long"))
	wantDoc(t, s, n, doc{long, "long", rev(1)})
	binary := string([]byte{0, 1, 2, 0xff, '\n', 0})
	apply(t, s, n, put("bin", 1, binary))
	wantDoc(t, s, n, doc{"bin", binary, rev(1)})
}

func testUpdate(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	apply(t, s, n, put("o1", 1, "a"))
	apply(t, s, n, put("o1", 5, "b"))
	wantDoc(t, s, n, doc{"o1", "b", rev(5)})
}

func testDelete(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	apply(t, s, n, put("o1", 1, "a", entry("all", readmodel.Int(1))))
	res := apply(t, s, n, del("o1", 2), del("never", 1))
	if diff := cmp.Diff(readmodel.Result{Applied: 2}, res); diff != "" {
		t.Errorf("Apply(deletes) result mismatch (-want +got):\n%s", diff)
	}
	wantMissing(t, s, n, "o1")
	wantMissing(t, s, n, "never")
	if got := queryAll(t, s, n, readmodel.All("all")); len(got) != 0 {
		t.Errorf("index after delete = %q, want empty", got)
	}
	// A later put brings the document back.
	apply(t, s, n, put("o1", 3, "c"))
	wantDoc(t, s, n, doc{"o1", "c", rev(3)})
}

func testOwnership(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	data := []byte("abc")
	writes := []readmodel.Write{{ID: "o1", Revision: rev(1), Data: data}}
	apply(t, s, n, writes...)
	data[0] = 'X'
	writes[0].ID = "changed"
	d, err := s.Get(context.Background(), n, "o1")
	if err != nil {
		t.Fatal(err)
	}
	d.Data[1] = 'Y'
	wantDoc(t, s, n, doc{"o1", "abc", rev(1)})
}

func testInvalidInput(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := context.Background()
	good := ns("orders")
	tests := []struct {
		name string
		ns   readmodel.Namespace
		b    readmodel.Batch
	}{
		{"EmptyProjection", readmodel.Namespace{Version: "v1"}, readmodel.Batch{}},
		{"LongProjection", readmodel.Namespace{Projection: strings.Repeat("p", readmodel.MaxNameBytes+1)}, readmodel.Batch{}},
		{"LongTenant", readmodel.Namespace{Projection: "p", Tenant: strings.Repeat("t", readmodel.MaxNameBytes+1)}, readmodel.Batch{}},
		{"EmptyID", good, readmodel.Batch{Writes: []readmodel.Write{put("", 1, "")}}},
		{"LongID", good, readmodel.Batch{Writes: []readmodel.Write{put(strings.Repeat("i", readmodel.MaxIDBytes+1), 1, "")}}},
		{"ZeroRevision", good, readmodel.Batch{Writes: []readmodel.Write{put("a", 0, "")}}},
		{"DeleteWithData", good, readmodel.Batch{Writes: []readmodel.Write{{ID: "a", Revision: rev(1), Delete: true, Data: []byte("x")}}}},
		{"EmptyIndexName", good, readmodel.Batch{Writes: []readmodel.Write{put("a", 1, "", entry("", readmodel.Int(1)))}}},
		{"ZeroValue", good, readmodel.Batch{Writes: []readmodel.Write{put("a", 1, "", entry("ix", readmodel.Value{}))}}},
		{"LongValue", good, readmodel.Batch{Writes: []readmodel.Write{put("a", 1, "", entry("ix", stringValueOfSize(readmodel.MaxValueBytes+1)))}}},
		{"LongCheckpoint", good, readmodel.Batch{Checkpoint: strings.Repeat("c", readmodel.MaxCheckpointBytes+1)}},
		// A bad write after a good one: nothing is written.
		{"SecondWriteBad", good, readmodel.Batch{Writes: []readmodel.Write{put("ok", 1, "x"), put("", 1, "")}}},
	}
	for _, tc := range tests {
		_, err := s.Apply(ctx, tc.ns, tc.b)
		if !errors.Is(err, readmodel.ErrInvalidInput) {
			t.Errorf("%s: Apply = %v, want ErrInvalidInput", tc.name, err)
		}
	}
	wantMissing(t, s, good, "ok")
	if st, err := s.State(ctx, good); err != nil || st.Initialized {
		t.Errorf("State after rejected batches = %+v, %v; want uninitialized", st, err)
	}
	if _, err := s.Get(ctx, good, ""); !errors.Is(err, readmodel.ErrInvalidInput) {
		t.Errorf("Get(empty id) = %v, want ErrInvalidInput", err)
	}
	if _, err := s.Get(ctx, readmodel.Namespace{}, "a"); !errors.Is(err, readmodel.ErrInvalidInput) {
		t.Errorf("Get(empty namespace) = %v, want ErrInvalidInput", err)
	}
	if _, err := s.GetMany(ctx, good, []string{"a", ""}); !errors.Is(err, readmodel.ErrInvalidInput) {
		t.Errorf("GetMany(empty id) = %v, want ErrInvalidInput", err)
	}
	if err := s.Drop(ctx, readmodel.Namespace{}); !errors.Is(err, readmodel.ErrInvalidInput) {
		t.Errorf("Drop(empty namespace) = %v, want ErrInvalidInput", err)
	}
	if _, err := s.State(ctx, readmodel.Namespace{}); !errors.Is(err, readmodel.ErrInvalidInput) {
		t.Errorf("State(empty namespace) = %v, want ErrInvalidInput", err)
	}
}

func testCanceled(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []readmodel.Write{put("a", 1, "x")}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply(canceled) = %v, want context.Canceled", err)
	}
	if _, err := s.Get(ctx, n, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(canceled) = %v, want context.Canceled", err)
	}
	if _, err := s.Query(ctx, n, readmodel.All("ix")); !errors.Is(err, context.Canceled) {
		t.Errorf("Query(canceled) = %v, want context.Canceled", err)
	}
	wantMissing(t, s, n, "a")
}

func testGetMany(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	apply(t, s, n, put("a", 1, "A"), put("b", 2, "B"), put("c", 3, "C"), del("c", 4))
	got, err := s.GetMany(context.Background(), n, []string{"b", "missing", "a", "c", "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []doc{{"b", "B", rev(2)}, {"a", "A", rev(1)}, {"b", "B", rev(2)}}
	if diff := cmp.Diff(want, docs(got)); diff != "" {
		t.Errorf("GetMany mismatch (-want +got):\n%s", diff)
	}
	got, err = s.GetMany(context.Background(), n, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("GetMany(nil) = %v, %v; want nothing", got, err)
	}
	got, err = s.GetMany(context.Background(), ns("other"), []string{"a"})
	if err != nil || len(got) != 0 {
		t.Errorf("GetMany(other namespace) = %v, %v; want nothing", got, err)
	}
}

func testGuardStale(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	apply(t, s, n, put("o1", 5, "five"))
	res := apply(t, s, n, put("o1", 4, "four"), put("o1", 5, "five again"), put("o2", 1, "new"))
	if diff := cmp.Diff(readmodel.Result{Applied: 1, Stale: []int{0, 1}}, res); diff != "" {
		t.Errorf("Apply result mismatch (-want +got):\n%s", diff)
	}
	wantDoc(t, s, n, doc{"o1", "five", rev(5)})
	res = apply(t, s, n, del("o1", 3))
	if diff := cmp.Diff(readmodel.Result{Stale: []int{0}}, res); diff != "" {
		t.Errorf("Apply(stale delete) result mismatch (-want +got):\n%s", diff)
	}
	wantDoc(t, s, n, doc{"o1", "five", rev(5)})
	apply(t, s, n, put("o1", 6, "six"))
	wantDoc(t, s, n, doc{"o1", "six", rev(6)})
}

func testGuardTombstone(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	apply(t, s, n, put("o1", 1, "one"), del("o1", 10))
	res := apply(t, s, n, put("o1", 9, "late"), del("o1", 10), put("o1", 2, "later", entry("ix", readmodel.Int(1))))
	if diff := cmp.Diff(readmodel.Result{Stale: []int{0, 1, 2}}, res); diff != "" {
		t.Errorf("Apply result mismatch (-want +got):\n%s", diff)
	}
	wantMissing(t, s, n, "o1")
	if got := queryAll(t, s, n, readmodel.All("ix")); len(got) != 0 {
		t.Errorf("index after stale put = %q, want empty", got)
	}
	// A delete of a document never written also leaves a tombstone.
	apply(t, s, n, del("o2", 7))
	if res := apply(t, s, n, put("o2", 6, "old")); len(res.Stale) != 1 {
		t.Errorf("put under a tombstone of a never-written document: result %+v, want stale", res)
	}
	wantMissing(t, s, n, "o2")
}

func testGuardWithinBatch(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	res := apply(t, s, n,
		put("o1", 1, "one"),
		put("o1", 3, "three"),
		put("o1", 2, "two"),
		del("o1", 3),
		put("o2", 2, "x"),
		del("o2", 4),
		put("o2", 5, "back"),
	)
	if diff := cmp.Diff(readmodel.Result{Applied: 5, Stale: []int{2, 3}}, res); diff != "" {
		t.Errorf("Apply result mismatch (-want +got):\n%s", diff)
	}
	wantDoc(t, s, n, doc{"o1", "three", rev(3)})
	wantDoc(t, s, n, doc{"o2", "back", rev(5)})
}

func testGuardPosition(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	p := func(c, q uint64) readmodel.Revision { return readmodel.Revision{Commit: c, Sequence: q} }
	w := func(r readmodel.Revision, data string) readmodel.Write {
		return readmodel.Write{ID: "o1", Revision: r, Data: []byte(data)}
	}
	apply(t, s, n, w(p(7, 100), "a"))
	res := apply(t, s, n,
		w(p(6, math.MaxUint64), "older commit"),
		w(p(7, 99), "older sequence"),
		w(p(8, 1), "newer commit"),
		w(p(8, 0), "older again"),
		w(p(math.MaxUint64, math.MaxUint64), "max"),
	)
	if diff := cmp.Diff(readmodel.Result{Applied: 2, Stale: []int{0, 1, 3}}, res); diff != "" {
		t.Errorf("Apply result mismatch (-want +got):\n%s", diff)
	}
	wantDoc(t, s, n, doc{"o1", "max", p(math.MaxUint64, math.MaxUint64)})
	// Values that differ only in bits beyond float64 precision.
	w2 := func(r readmodel.Revision, data string) readmodel.Write {
		return readmodel.Write{ID: "o2", Revision: r, Data: []byte(data)}
	}
	apply(t, s, n, w2(p(1<<60, 1<<60), "x"))
	res = apply(t, s, n, w2(p(1<<60, 1<<60+1), "y"), w2(p(1<<60, 1<<60), "z"))
	if diff := cmp.Diff(readmodel.Result{Applied: 1, Stale: []int{1}}, res); diff != "" {
		t.Errorf("Apply(large revisions) result mismatch (-want +got):\n%s", diff)
	}
	wantDoc(t, s, n, doc{"o2", "y", p(1<<60, 1<<60+1)})
}

func testGuardStaleKeepsIndex(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("accounts")
	apply(t, s, n, put("a1", 5, "100", entry("balance", readmodel.Int(100))))
	apply(t, s, n, put("a1", 4, "50", entry("balance", readmodel.Int(50)), entry("other", readmodel.Int(1))))
	if got := queryAll(t, s, n, readmodel.Equal("balance", readmodel.Int(100))); !slices.Equal(got, []string{"a1"}) {
		t.Errorf("Equal(balance, 100) after stale write = %q, want [a1]", got)
	}
	for _, ix := range []string{"other"} {
		if got := queryAll(t, s, n, readmodel.All(ix)); len(got) != 0 {
			t.Errorf("All(%s) after stale write = %q, want empty", ix, got)
		}
	}
	if got := queryAll(t, s, n, readmodel.Equal("balance", readmodel.Int(50))); len(got) != 0 {
		t.Errorf("Equal(balance, 50) after stale write = %q, want empty", got)
	}
}

// testGuardReordered applies the history of several documents in shuffled
// order, with duplicates, in batches of random size, and checks that every
// document ends at its latest revision, that Result reports exactly the
// writes that were behind, and that the index holds exactly the live
// documents' latest values.
func testGuardReordered(t *testing.T, cfg Config) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 5 {
		s := cfg.New(t)
		n := ns("accounts")
		var history []write
		final := map[string]write{}
		for d := range 6 {
			id := fmt.Sprintf("acc-%d", d)
			for r := uint64(1); r <= 8; r++ {
				w := put(id, r, fmt.Sprint(r*10), entry("balance", readmodel.Int(int64(r*10))))
				if rng.IntN(4) == 0 {
					w = del(id, r)
				}
				history = append(history, w)
				final[id] = w
			}
		}
		for range 10 {
			history = append(history, history[rng.IntN(len(history))])
		}
		rng.Shuffle(len(history), func(i, j int) { history[i], history[j] = history[j], history[i] })

		seen := map[string]uint64{}
		for len(history) > 0 {
			k := 1 + rng.IntN(min(5, len(history)))
			batch := history[:k]
			history = history[k:]
			var want readmodel.Result
			for i, w := range batch {
				if w.Revision.Sequence > seen[w.ID] {
					seen[w.ID] = w.Revision.Sequence
					want.Applied++
				} else {
					want.Stale = append(want.Stale, i)
				}
			}
			got := apply(t, s, n, batch...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("round %d: Apply result mismatch (-want +got):\n%s", round, diff)
			}
		}
		wantIndex := []string{}
		ids := make([]string, 0, len(final))
		for id := range final {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool {
			vi, vj := final[ids[i]].Revision.Sequence, final[ids[j]].Revision.Sequence
			return vi < vj || vi == vj && ids[i] < ids[j]
		})
		for _, id := range ids {
			w := final[id]
			if w.Delete {
				wantMissing(t, s, n, id)
				continue
			}
			wantDoc(t, s, n, doc{id, string(w.Data), w.Revision})
			wantIndex = append(wantIndex, id)
		}
		if diff := cmp.Diff(wantIndex, queryAll(t, s, n, readmodel.All("balance"))); diff != "" {
			t.Fatalf("round %d: index mismatch (-want +got):\n%s", round, diff)
		}
	}
}

// ordered fills an index with documents whose values are given in
// ascending index order (ties by ID) and returns their IDs in that order.
func ordered(t testing.TB, s readmodel.Store, n readmodel.Namespace, index string, values []readmodel.Value, ids []string) {
	t.Helper()
	var ws []write
	for i, v := range values {
		ws = append(ws, put(ids[i], 1, ids[i], entry(index, v)))
	}
	// Write in reverse so that insertion order cannot explain the result.
	slices.Reverse(ws)
	apply(t, s, n, ws...)
}

func testIndexEqual(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	apply(t, s, n,
		put("o1", 1, "", entry("customer", readmodel.String("alice"))),
		put("o2", 1, "", entry("customer", readmodel.String("bob"))),
		put("o3", 1, "", entry("customer", readmodel.String("alice"))),
		put("o4", 1, "", entry("customer", readmodel.String("alicea"))),
		put("o5", 1, "", entry("customer", readmodel.String("alic"))),
		put("o6", 1, "", entry("customer", readmodel.String("alice\x00"))),
		put("o7", 1, "", entry("total", readmodel.Int(7))),
		put("o8", 1, "", entry("total", readmodel.Int(7)), entry("customer", readmodel.String(""))),
	)
	tests := []struct {
		q    readmodel.Query
		want []string
	}{
		{readmodel.Equal("customer", readmodel.String("alice")), []string{"o1", "o3"}},
		{readmodel.Equal("customer", readmodel.String("bob")), []string{"o2"}},
		{readmodel.Equal("customer", readmodel.String("alic")), []string{"o5"}},
		{readmodel.Equal("customer", readmodel.String("alice\x00")), []string{"o6"}},
		{readmodel.Equal("customer", readmodel.String("")), []string{"o8"}},
		{readmodel.Equal("customer", readmodel.String("carol")), []string{}},
		{readmodel.Equal("total", readmodel.Int(7)), []string{"o7", "o8"}},
		{readmodel.Equal("total", readmodel.Uint(7)), []string{}},
		{readmodel.Equal("total", readmodel.Float(7)), []string{}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, queryAll(t, s, n, tc.q)); diff != "" {
			t.Errorf("Query(%s %q) mismatch (-want +got):\n%s", tc.q.Index, tc.q.Min.Key(), diff)
		}
	}
}

func testIndexRange(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("accounts")
	vals := []int64{math.MinInt64, -100, -1, 0, 0, 1, 50, 100, 100, math.MaxInt64}
	ids := []string{"a", "b", "c", "d1", "d2", "e", "f", "g1", "g2", "h"}
	var vs []readmodel.Value
	for _, v := range vals {
		vs = append(vs, readmodel.Int(v))
	}
	ordered(t, s, n, "balance", vs, ids)
	I := readmodel.Int
	var none readmodel.Value
	tests := []struct {
		name     string
		min, max readmodel.Value
		want     []string
	}{
		{"Closed", I(-1), I(50), []string{"c", "d1", "d2", "e", "f"}},
		{"Point", I(100), I(100), []string{"g1", "g2"}},
		{"BetweenValues", I(2), I(49), []string{}},
		{"NoMin", none, I(-1), []string{"a", "b", "c"}},
		{"NoMax", I(100), none, []string{"g1", "g2", "h"}},
		{"Unbounded", none, none, ids},
		{"Inverted", I(50), I(-1), []string{}},
		{"Extremes", I(math.MinInt64), I(math.MaxInt64), ids},
	}
	for _, tc := range tests {
		q := readmodel.Between("balance", tc.min, tc.max)
		if diff := cmp.Diff(tc.want, queryAll(t, s, n, q)); diff != "" {
			t.Errorf("%s: ascending mismatch (-want +got):\n%s", tc.name, diff)
		}
		q.Descending = true
		rev := slices.Clone(tc.want)
		slices.Reverse(rev)
		if diff := cmp.Diff(rev, queryAll(t, s, n, q)); diff != "" {
			t.Errorf("%s: descending mismatch (-want +got):\n%s", tc.name, diff)
		}
		q.Limit = 2
		if diff := cmp.Diff(rev, queryAll(t, s, n, q)); diff != "" {
			t.Errorf("%s: descending, limit 2, mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
}

func testIndexOrder(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("kinds")
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		index string
		vals  []readmodel.Value
	}{
		{"int", []readmodel.Value{readmodel.Int(math.MinInt64), readmodel.Int(-2), readmodel.Int(-1), readmodel.Int(0), readmodel.Int(1), readmodel.Int(255), readmodel.Int(256), readmodel.Int(math.MaxInt64)}},
		{"uint", []readmodel.Value{readmodel.Uint(0), readmodel.Uint(1), readmodel.Uint(1 << 32), readmodel.Uint(math.MaxUint64)}},
		{"float", []readmodel.Value{readmodel.Float(math.Inf(-1)), readmodel.Float(-1e300), readmodel.Float(-1.5), readmodel.Float(-math.SmallestNonzeroFloat64), readmodel.Float(0), readmodel.Float(math.SmallestNonzeroFloat64), readmodel.Float(0.1), readmodel.Float(2.25), readmodel.Float(1e300), readmodel.Float(math.Inf(1)), readmodel.Float(math.NaN())}},
		{"string", []readmodel.Value{readmodel.String(""), readmodel.String("\x00"), readmodel.String("\x00\x00"), readmodel.String("\x00\x01"), readmodel.String("\x01"), readmodel.String("A"), readmodel.String("a"), readmodel.String("a\x00"), readmodel.String("a\x00b"), readmodel.String("a\x01"), readmodel.String("ab"), readmodel.String("b"), readmodel.String("é"), readmodel.String("\xff"), readmodel.String("\xff\xff")}},
		{"time", []readmodel.Value{readmodel.Time(t0.Add(-time.Hour)), readmodel.Time(t0), readmodel.Time(t0.Add(time.Nanosecond)), readmodel.Time(t0.Add(24 * time.Hour))}},
	}
	for _, tc := range tests {
		var ids []string
		for i := range tc.vals {
			ids = append(ids, fmt.Sprintf("%s-%02d", tc.index, i))
		}
		ordered(t, s, n, tc.index, tc.vals, ids)
		if diff := cmp.Diff(ids, queryAll(t, s, n, readmodel.All(tc.index))); diff != "" {
			t.Errorf("All(%s) mismatch (-want +got):\n%s", tc.index, diff)
		}
		for i, v := range tc.vals {
			if diff := cmp.Diff([]string{ids[i]}, queryAll(t, s, n, readmodel.Equal(tc.index, v))); diff != "" {
				t.Errorf("Equal(%s, #%d) mismatch (-want +got):\n%s", tc.index, i, diff)
			}
		}
	}
	// Ties order by document ID, byte-wise, whatever the IDs hold.
	tieIDs := []string{"\x00", "\x00\x00", "\x01", "a", "a\x00", "a\x00b", "a\x01", "ab", "b", "\xff"}
	var same []readmodel.Value
	for range tieIDs {
		same = append(same, readmodel.Float(0))
	}
	ordered(t, s, n, "ties", same, tieIDs)
	if diff := cmp.Diff(tieIDs, queryAll(t, s, n, readmodel.Equal("ties", readmodel.Float(math.Copysign(0, -1))))); diff != "" {
		t.Errorf("ties mismatch (-want +got):\n%s", diff)
	}
}

func testIndexPagination(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	var vals []readmodel.Value
	var ids []string
	for i := range 7 {
		vals = append(vals, readmodel.Int(int64(i/2))) // pairs of ties
		ids = append(ids, fmt.Sprintf("o%d", i))
	}
	ordered(t, s, n, "n", vals, ids)
	ctx := context.Background()
	for _, desc := range []bool{false, true} {
		want := slices.Clone(ids)
		if desc {
			slices.Reverse(want)
		}
		for limit := 1; limit <= len(ids)+1; limit++ {
			q := readmodel.All("n")
			q.Limit, q.Descending = limit, desc
			var got []string
			for pages := 0; ; pages++ {
				if pages > len(ids) {
					t.Fatalf("desc=%v limit=%d: still a cursor after %d pages of %d documents", desc, limit, pages, len(ids))
				}
				p, err := s.Query(ctx, n, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range p.Documents {
					got = append(got, d.ID)
				}
				if p.Next == "" {
					if wantPages := (len(ids) + limit - 1) / limit; pages+1 != wantPages {
						t.Errorf("desc=%v limit=%d: %d pages, want %d", desc, limit, pages+1, wantPages)
					}
					break
				}
				if len(p.Documents) != limit {
					t.Fatalf("desc=%v limit=%d: page %d holds %d documents but has a cursor", desc, limit, pages, len(p.Documents))
				}
				q.Cursor = p.Next
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("desc=%v limit=%d mismatch (-want +got):\n%s", desc, limit, diff)
			}
		}
	}
	// A range query pages within its range.
	q := readmodel.Between("n", readmodel.Int(1), readmodel.Int(2))
	q.Limit = 3
	p := query(t, s, n, q)
	if diff := cmp.Diff([]string{"o2", "o3", "o4"}, idsOf(p)); diff != "" || p.Next == "" {
		t.Fatalf("page 1 mismatch (-want +got):\n%s (next %q)", diff, p.Next)
	}
	q.Cursor = p.Next
	p = query(t, s, n, q)
	if diff := cmp.Diff([]string{"o5"}, idsOf(p)); diff != "" || p.Next != "" {
		t.Fatalf("page 2 mismatch (-want +got):\n%s (next %q)", diff, p.Next)
	}
	// The default limit.
	var ws []write
	for i := range readmodel.DefaultLimit + 1 {
		ws = append(ws, put(fmt.Sprintf("m%04d", i), 1, "", entry("many", readmodel.Int(1))))
	}
	apply(t, s, n, ws...)
	p = query(t, s, n, readmodel.All("many"))
	if len(p.Documents) != readmodel.DefaultLimit || p.Next == "" {
		t.Errorf("default limit: page of %d documents, next %q; want %d and a cursor", len(p.Documents), p.Next, readmodel.DefaultLimit)
	}
	q = readmodel.All("many")
	q.Limit = readmodel.MaxLimit
	if p = query(t, s, n, q); len(p.Documents) != readmodel.DefaultLimit+1 || p.Next != "" {
		t.Errorf("max limit: page of %d documents, next %q; want %d and none", len(p.Documents), p.Next, readmodel.DefaultLimit+1)
	}
}

func idsOf(p readmodel.Page) []string {
	ids := []string{}
	for _, d := range p.Documents {
		ids = append(ids, d.ID)
	}
	return ids
}

func testIndexCursorAfterChanges(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	ordered(t, s, n, "n",
		[]readmodel.Value{readmodel.Int(1), readmodel.Int(2), readmodel.Int(3), readmodel.Int(4), readmodel.Int(5)},
		[]string{"a", "b", "c", "d", "e"})
	q := readmodel.All("n")
	q.Limit = 2
	p := query(t, s, n, q)
	if diff := cmp.Diff([]string{"a", "b"}, idsOf(p)); diff != "" {
		t.Fatalf("page 1 mismatch (-want +got):\n%s", diff)
	}
	// Delete the cursor's document, add one before it and one after it.
	apply(t, s, n, del("b", 2), put("a2", 1, "", entry("n", readmodel.Int(1))), put("c2", 1, "", entry("n", readmodel.Int(3))))
	q.Cursor = p.Next
	if diff := cmp.Diff([]string{"c", "c2", "d", "e"}, queryAll(t, s, n, q)); diff != "" {
		t.Errorf("rest mismatch (-want +got):\n%s", diff)
	}
	// A document moved from after the cursor to before it is not seen again.
	q.Descending = true
	q.Cursor = ""
	p = query(t, s, n, q)
	if diff := cmp.Diff([]string{"e", "d"}, idsOf(p)); diff != "" {
		t.Fatalf("descending page 1 mismatch (-want +got):\n%s", diff)
	}
	apply(t, s, n, put("a", 2, "", entry("n", readmodel.Int(9))))
	q.Cursor = p.Next
	if diff := cmp.Diff([]string{"c2", "c", "a2"}, queryAll(t, s, n, q)); diff != "" {
		t.Errorf("descending rest mismatch (-want +got):\n%s", diff)
	}
}

func testIndexStaleEntries(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	S := readmodel.String
	apply(t, s, n, put("o1", 1, "", entry("customer", S("alice")), entry("status", S("open"))))
	// Update: the customer changes, the status index is no longer written.
	apply(t, s, n, put("o1", 2, "", entry("customer", S("bob"))))
	check := func(q readmodel.Query, want []string) {
		t.Helper()
		if diff := cmp.Diff(want, queryAll(t, s, n, q)); diff != "" {
			t.Errorf("Query(%s, %q) mismatch (-want +got):\n%s", q.Index, q.Min.Key(), diff)
		}
	}
	check(readmodel.Equal("customer", S("alice")), []string{})
	check(readmodel.Equal("customer", S("bob")), []string{"o1"})
	check(readmodel.All("status"), []string{})
	// Same value again: still one entry.
	apply(t, s, n, put("o1", 3, "", entry("customer", S("bob")), entry("customer", S("bob"))))
	check(readmodel.All("customer"), []string{"o1"})
	// Delete removes every entry.
	apply(t, s, n, del("o1", 4))
	check(readmodel.All("customer"), []string{})
	// A put with no entries after one with entries.
	apply(t, s, n, put("o2", 1, "", entry("customer", S("carol"))), put("o2", 2, ""))
	check(readmodel.All("customer"), []string{})
	wantDoc(t, s, n, doc{"o2", "", rev(2)})
}

func testIndexMultiValued(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("posts")
	S := readmodel.String
	apply(t, s, n,
		put("p1", 1, "", entry("tag", S("go")), entry("tag", S("redis"))),
		put("p2", 1, "", entry("tag", S("go"))),
	)
	if diff := cmp.Diff([]string{"p1", "p2"}, queryAll(t, s, n, readmodel.Equal("tag", S("go")))); diff != "" {
		t.Errorf("Equal(tag, go) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p1", "p2", "p1"}, queryAll(t, s, n, readmodel.All("tag"))); diff != "" {
		t.Errorf("All(tag) mismatch (-want +got):\n%s", diff)
	}
	apply(t, s, n, put("p1", 2, "", entry("tag", S("redis"))))
	if diff := cmp.Diff([]string{"p2", "p1"}, queryAll(t, s, n, readmodel.All("tag"))); diff != "" {
		t.Errorf("All(tag) after update mismatch (-want +got):\n%s", diff)
	}
}

func testIndexUnknown(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	if p := query(t, s, n, readmodel.All("nothing")); len(p.Documents) != 0 || p.Next != "" {
		t.Errorf("Query(never-written namespace) = %+v, want empty", p)
	}
	apply(t, s, n, put("o1", 1, "", entry("a", readmodel.Int(1))))
	if p := query(t, s, n, readmodel.All("b")); len(p.Documents) != 0 || p.Next != "" {
		t.Errorf("Query(unknown index) = %+v, want empty", p)
	}
}

func testIndexInvalidQuery(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	apply(t, s, n, put("o1", 1, "", entry("a", readmodel.Int(1))))
	tests := []struct {
		name string
		q    readmodel.Query
	}{
		{"NoIndex", readmodel.Query{}},
		{"NegativeLimit", readmodel.Query{Index: "a", Limit: -1}},
		{"LimitTooLarge", readmodel.Query{Index: "a", Limit: readmodel.MaxLimit + 1}},
		{"GarbageCursor", readmodel.Query{Index: "a", Cursor: "not a cursor"}},
		{"ForgedCursor", readmodel.Query{Index: "a", Cursor: "cAAAA"}},
	}
	for _, tc := range tests {
		if _, err := s.Query(context.Background(), n, tc.q); !errors.Is(err, readmodel.ErrInvalidInput) {
			t.Errorf("%s: Query = %v, want ErrInvalidInput", tc.name, err)
		}
	}
}

// testIndexValueLimit checks that an index value of MaxValueBytes is stored
// and found, and that one byte more is rejected with nothing written.
func testIndexValueLimit(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	atLimit := stringValueOfSize(readmodel.MaxValueBytes)
	apply(t, s, n, put("o1", 1, "", entry("big", atLimit)))
	if diff := cmp.Diff([]string{"o1"}, queryAll(t, s, n, readmodel.Equal("big", atLimit))); diff != "" {
		t.Errorf("Query of a value at the limit mismatch (-want +got):\n%s", diff)
	}
	over := stringValueOfSize(readmodel.MaxValueBytes + 1)
	_, err := s.Apply(context.Background(), n, readmodel.Batch{Writes: []readmodel.Write{
		put("o2", 1, "", entry("big", readmodel.Int(1))),
		put("o3", 1, "", entry("big", over)),
	}})
	var ie *readmodel.InvalidInputError
	if !errors.Is(err, readmodel.ErrInvalidInput) || !errors.As(err, &ie) || ie.Field != "writes[1].entries[0].value" {
		t.Fatalf("Apply with a value over the limit = %v, want an InvalidInputError on writes[1].entries[0].value", err)
	}
	wantMissing(t, s, n, "o2")
	wantMissing(t, s, n, "o3")
}

// stringValueOfSize returns a string Value whose encoding is n bytes long.
func stringValueOfSize(n int) readmodel.Value {
	v := readmodel.String(strings.Repeat("v", n-3)) // a tag byte and a two-byte terminator
	if len(v.Key()) != n {
		panic(fmt.Sprintf("readmodeltest: value encoding is %d bytes, want %d", len(v.Key()), n))
	}
	return v
}

// isolated lists namespaces that a careless key scheme would merge.
var isolated = []readmodel.Namespace{
	{Projection: "orders"},
	{Projection: "orders", Version: "v1"},
	{Projection: "orders", Version: "v2"},
	{Projection: "orders", Version: "v1", Tenant: "t1"},
	{Projection: "orders", Version: "v1", Tenant: "t2"},
	{Projection: "orders", Tenant: "v1"},
	{Projection: "orders:v1"},
	{Projection: "orders", Version: ":v1"},
	{Projection: "orders:", Version: "v1"},
	{Projection: "a:b", Version: "c"},
	{Projection: "a", Version: "b:c"},
	{Projection: "a", Version: "b", Tenant: "c"},
	{Projection: "a", Version: "b:", Tenant: "c"},
	{Projection: "a}", Version: "{b"},
	{Projection: "a", Version: "}{b"},
	{Projection: "{a}"},
	{Projection: "a"},
	{Projection: "%3A"},
	{Projection: ":"},
	{Projection: "*"},
	{Projection: "a", Version: "*"},
	{Projection: "a b\n"},
	{Projection: "a\x00b"},
	{Projection: "orders", Version: "v1", Tenant: "d:x"},
	// Tenants named like the other fields, or like key syntax.
	{Projection: "orders", Version: "v1:t1"},
	{Projection: "orders", Version: "v1", Tenant: "t1}"},
	{Projection: "orders", Version: "v1", Tenant: "{t1}"},
	{Projection: "orders", Version: "v1", Tenant: "t1/x"},
	{Projection: "orders", Version: "v1/t1", Tenant: "x"},
	// Partitions, and fields that look like one.
	{Projection: "orders", Version: "v1", Tenant: "x", Partition: "0"},
	{Projection: "orders", Version: "v1", Tenant: "x", Partition: "1"},
	{Projection: "orders", Version: "v1", Tenant: "x:0"},
	{Projection: "orders", Version: "v1", Partition: "x"},
	{Projection: "orders", Version: "v1", Partition: "}{:*"},
}

// isolatedFor returns the namespaces of isolated that cfg's store takes: a
// partitioned store chooses partitions itself.
func isolatedFor(cfg Config) []readmodel.Namespace {
	if cfg.PartitionOf == nil {
		return isolated
	}
	var out []readmodel.Namespace
	for _, n := range isolated {
		if n.Partition == "" {
			out = append(out, n)
		}
	}
	return out
}

func testNamespaceIsolation(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := context.Background()
	isolated := isolatedFor(cfg)
	for i, n := range isolated {
		b := readmodel.Batch{
			Writes:     []write{put("doc", 1, fmt.Sprint(i), entry("ix", readmodel.String("v")))},
			Checkpoint: fmt.Sprint("cp", i),
		}
		if _, err := s.Apply(ctx, n, b); err != nil {
			t.Fatalf("Apply(%v) = %v", n, err)
		}
	}
	for i, n := range isolated {
		wantDoc(t, s, n, doc{"doc", fmt.Sprint(i), rev(1)})
		if got := queryAll(t, s, n, readmodel.All("ix")); !slices.Equal(got, []string{"doc"}) {
			t.Errorf("All(ix) in %v = %q, want [doc]", n, got)
		}
		st, err := s.State(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(readmodel.State{Initialized: true, Checkpoint: fmt.Sprint("cp", i)}, st); diff != "" {
			t.Errorf("State(%v) mismatch (-want +got):\n%s", n, diff)
		}
	}
	// A guard in one namespace does not affect another.
	apply(t, s, isolated[1], put("doc", 5, "five"))
	if res := apply(t, s, isolated[2], put("doc", 2, "two")); res.Applied != 1 {
		t.Errorf("Apply in %v blocked by %v: %+v", isolated[2], isolated[1], res)
	}
}

func testNamespaceState(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := context.Background()
	n := ns("orders")
	state := func() readmodel.State {
		t.Helper()
		st, err := s.State(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := state(); st != (readmodel.State{}) {
		t.Errorf("State(new) = %+v, want zero", st)
	}
	// An empty batch initializes.
	if _, err := s.Apply(ctx, n, readmodel.Batch{}); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != (readmodel.State{Initialized: true}) {
		t.Errorf("State after empty batch = %+v", st)
	}
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []write{put("a", 2, "x")}, Checkpoint: "pos-2"}); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != (readmodel.State{Initialized: true, Checkpoint: "pos-2"}) {
		t.Errorf("State = %+v, want checkpoint pos-2", st)
	}
	// No checkpoint: the stored one stays.
	apply(t, s, n, put("b", 1, "y"))
	if st := state(); st.Checkpoint != "pos-2" {
		t.Errorf("State after batch without checkpoint = %+v, want pos-2", st)
	}
	// All writes stale: the checkpoint still moves (a replayed batch).
	res, err := s.Apply(ctx, n, readmodel.Batch{Writes: []write{put("a", 1, "old")}, Checkpoint: "pos-3\n{x}"})
	if err != nil || res.Applied != 0 {
		t.Fatalf("Apply(stale) = %+v, %v", res, err)
	}
	if st := state(); st.Checkpoint != "pos-3\n{x}" {
		t.Errorf("State after stale batch = %+v, want pos-3", st)
	}
	if st, err := s.State(ctx, ns("other")); err != nil || st.Initialized {
		t.Errorf("State(other) = %+v, %v; want uninitialized", st, err)
	}
}

func testNamespaceDrop(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := context.Background()
	isolated := isolatedFor(cfg)
	var ws []write
	for i := range 250 {
		ws = append(ws, put(fmt.Sprint("d", i), 1, "x", entry("ix", readmodel.Int(int64(i)))))
	}
	for _, n := range isolated {
		if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: append(ws, del("gone", 1)), Checkpoint: "cp"}); err != nil {
			t.Fatal(err)
		}
	}
	dropped := map[int]bool{0: true, 9: true, 13: true, 17: true}
	if len(isolated) > 19 {
		dropped[19] = true // partition 0, beside partition 1 and the namespace kept whole
	}
	for i := range dropped {
		if err := s.Drop(ctx, isolated[i]); err != nil {
			t.Fatalf("Drop(%v) = %v", isolated[i], err)
		}
	}
	for i, n := range isolated {
		st, err := s.State(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		got := queryAll(t, s, n, readmodel.All("ix"))
		if dropped[i] {
			if st.Initialized || st.Checkpoint != "" || len(got) != 0 {
				t.Errorf("after Drop(%v): state %+v, %d index entries; want nothing", n, st, len(got))
			}
			wantMissing(t, s, n, "d0")
			// The tombstone went too.
			if res := apply(t, s, n, put("gone", 1, "back")); res.Applied != 1 {
				t.Errorf("after Drop(%v): put under old tombstone: %+v", n, res)
			}
			continue
		}
		if !st.Initialized || st.Checkpoint != "cp" || len(got) != len(ws) {
			t.Errorf("%v, not dropped: state %+v, %d index entries; want %d", n, st, len(got), len(ws))
		}
		wantDoc(t, s, n, doc{"d0", "x", rev(1)})
	}
	if err := s.Drop(ctx, ns("never")); err != nil {
		t.Errorf("Drop(empty namespace) = %v", err)
	}
}

func testHostileIDs(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := context.Background()
	n := readmodel.Namespace{Projection: "p:{x}*", Version: "v\n1", Tenant: "t }{ 1"}
	ids := slices.Clone(hostile)
	ids = append(ids, strings.Repeat("}", readmodel.MaxIDBytes))
	var ws []write
	for i, id := range ids {
		ws = append(ws, put(id, uint64(i+1), "data of "+id, entry("ix", readmodel.Int(int64(i)))))
	}
	apply(t, s, n, ws...)
	for i, id := range ids {
		wantDoc(t, s, n, doc{id, "data of " + id, rev(uint64(i + 1))})
	}
	got, err := s.GetMany(ctx, n, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("GetMany(hostile) returned %d documents, want %d", len(got), len(ids))
	}
	for i, d := range got {
		if d.ID != ids[i] || string(d.Data) != "data of "+ids[i] {
			t.Errorf("GetMany[%d] = %q %q, want %q", i, d.ID, d.Data, ids[i])
		}
	}
	q := readmodel.All("ix")
	q.Limit = 3
	if diff := cmp.Diff(ids, queryAll(t, s, n, q)); diff != "" {
		t.Errorf("All(ix) mismatch (-want +got):\n%s", diff)
	}
	// Deleting each one leaves the others.
	for i := 0; i < len(ids); i += 2 {
		apply(t, s, n, del(ids[i], 1000))
	}
	for i, id := range ids {
		if _, ok := get(t, s, n, id); ok == (i%2 == 0) {
			t.Errorf("Get(%q) after deleting every other: found %v", id, ok)
		}
	}
	// An ID that names another namespace's key stays in its own.
	other := readmodel.Namespace{Projection: "p"}
	apply(t, s, other, put("x", 1, "other"))
	for _, id := range hostile {
		if _, ok := get(t, s, other, id); ok {
			t.Errorf("Get(%v, %q) found a document of another namespace", other, id)
		}
	}
}

func testHostileIndexes(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("idx")
	var ws []write
	for i, name := range hostile {
		ws = append(ws, put(fmt.Sprint("d", i), 1, "", entry(name, readmodel.String(name)), entry("values", readmodel.String(name))))
	}
	apply(t, s, n, ws...)
	for i, name := range hostile {
		want := []string{fmt.Sprint("d", i)}
		if diff := cmp.Diff(want, queryAll(t, s, n, readmodel.All(name))); diff != "" {
			t.Errorf("All(%q) mismatch (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff(want, queryAll(t, s, n, readmodel.Equal("values", readmodel.String(name)))); diff != "" {
			t.Errorf("Equal(values, %q) mismatch (-want +got):\n%s", name, diff)
		}
	}
}

// testConcurrent has several writers apply the same histories in different
// orders and batchings, as competing or redelivering projection workers
// would, and checks that the outcome is the latest revision everywhere.
func testConcurrent(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("accounts")
	const docsN, revs, writers = 10, 20, 8
	var history []write
	for d := range docsN {
		id := fmt.Sprint("acc-", d)
		for r := uint64(1); r <= revs; r++ {
			w := put(id, r, fmt.Sprint(r), entry("balance", readmodel.Int(int64(r))))
			if r == revs && d%2 == 1 {
				w = del(id, r)
			}
			history = append(history, w)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	var applied sync.Map
	for g := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			h := slices.Clone(history)
			rng.Shuffle(len(h), func(i, j int) { h[i], h[j] = h[j], h[i] })
			for len(h) > 0 {
				k := 1 + rng.IntN(min(8, len(h)))
				res, err := s.Apply(context.Background(), n, readmodel.Batch{Writes: h[:k], Checkpoint: fmt.Sprint("writer-", g)})
				if err != nil {
					errs <- err
					return
				}
				for i, w := range h[:k] {
					if !slices.Contains(res.Stale, i) {
						key := fmt.Sprint(w.ID, "@", w.Revision.Sequence)
						if _, dup := applied.LoadOrStore(key, true); dup {
							errs <- fmt.Errorf("write %s applied twice", key)
							return
						}
					}
				}
				h = h[k:]
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var live []string
	for d := range docsN {
		id := fmt.Sprint("acc-", d)
		if d%2 == 1 {
			wantMissing(t, s, n, id)
			continue
		}
		wantDoc(t, s, n, doc{id, fmt.Sprint(revs), rev(revs)})
		live = append(live, id)
	}
	if diff := cmp.Diff(live, queryAll(t, s, n, readmodel.All("balance"))); diff != "" {
		t.Errorf("index mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(live, queryAll(t, s, n, readmodel.Equal("balance", readmodel.Int(revs)))); diff != "" {
		t.Errorf("Equal(balance, %d) mismatch (-want +got):\n%s", revs, diff)
	}
}

type account struct {
	Owner   string   `json:"owner"`
	Balance int64    `json:"balance"`
	Tags    []string `json:"tags,omitempty"`
}

func testModel(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := context.Background()
	n := ns("accounts")
	m := readmodel.Model[account]{Indexes: []readmodel.Index[account]{
		readmodel.By("owner", func(a account) readmodel.Value { return readmodel.String(a.Owner) }),
		readmodel.By("balance", func(a account) readmodel.Value { return readmodel.Int(a.Balance) }),
		{Name: "tag", Values: func(a account) []readmodel.Value {
			var vs []readmodel.Value
			for _, tag := range a.Tags {
				vs = append(vs, readmodel.String(tag))
			}
			return vs
		}},
	}}
	var ws []write
	for i, a := range []account{{"ann", 30, []string{"vip"}}, {"bob", 10, nil}, {"ann", 20, []string{"vip", "new"}}} {
		w, err := m.Put(fmt.Sprint("acc-", i), rev(1), a)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	ws = append(ws, m.Delete("acc-9", rev(1)))
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: ws, Checkpoint: "1"}); err != nil {
		t.Fatal(err)
	}
	v := m.View(readmodel.ReadOnly(s), n)
	got, err := v.Get(ctx, "acc-2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(account{"ann", 20, []string{"vip", "new"}}, got); diff != "" {
		t.Errorf("View.Get mismatch (-want +got):\n%s", diff)
	}
	if _, err := v.Get(ctx, "acc-9"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Errorf("View.Get(deleted) = %v, want ErrNotFound", err)
	}
	page, err := v.Query(ctx, readmodel.Equal("owner", readmodel.String("ann")))
	if err != nil {
		t.Fatal(err)
	}
	wantItems := []readmodel.Item[account]{
		{ID: "acc-0", Revision: rev(1), Doc: account{"ann", 30, []string{"vip"}}},
		{ID: "acc-2", Revision: rev(1), Doc: account{"ann", 20, []string{"vip", "new"}}},
	}
	if diff := cmp.Diff(readmodel.ItemPage[account]{Items: wantItems}, page); diff != "" {
		t.Errorf("View.Query(owner=ann) mismatch (-want +got):\n%s", diff)
	}
	q := readmodel.Between("balance", readmodel.Int(15), readmodel.Value{})
	q.Descending = true
	page, err = v.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acc-0", "acc-2"}, itemIDs(page.Items)); diff != "" {
		t.Errorf("View.Query(balance >= 15, desc) mismatch (-want +got):\n%s", diff)
	}
	page, err = v.Query(ctx, readmodel.Equal("tag", readmodel.String("vip")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acc-0", "acc-2"}, itemIDs(page.Items)); diff != "" {
		t.Errorf("View.Query(tag=vip) mismatch (-want +got):\n%s", diff)
	}
	items, err := v.GetMany(ctx, []string{"acc-1", "acc-9"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]readmodel.Item[account]{{ID: "acc-1", Revision: rev(1), Doc: account{"bob", 10, nil}}}, items); diff != "" {
		t.Errorf("View.GetMany mismatch (-want +got):\n%s", diff)
	}
	// A document the codec cannot read.
	apply(t, s, n, put("bad", 1, "{not json"))
	var de *readmodel.DecodeError
	if _, err := v.Get(ctx, "bad"); !errors.As(err, &de) || de.ID != "bad" {
		t.Errorf("View.Get(bad) = %v, want a DecodeError", err)
	}
}

func itemIDs[T any](items []readmodel.Item[T]) []string {
	ids := []string{}
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

func testReadOnly(t *testing.T, cfg Config) {
	s := cfg.New(t)
	n := ns("orders")
	apply(t, s, n, put("o1", 1, "x", entry("ix", readmodel.Int(1))))
	r := readmodel.ReadOnly(s)
	if _, ok := r.(readmodel.Writer); ok {
		t.Fatal("ReadOnly(store) still implements Writer")
	}
	if readmodel.ReadOnly(r) != r {
		t.Error("ReadOnly(ReadOnly(s)) wraps twice")
	}
	wantDoc(t, r, n, doc{"o1", "x", rev(1)})
	if got := queryAll(t, r, n, readmodel.All("ix")); !slices.Equal(got, []string{"o1"}) {
		t.Errorf("ReadOnly Query = %q", got)
	}
	if st, err := r.State(context.Background(), n); err != nil || !st.Initialized {
		t.Errorf("ReadOnly State = %+v, %v", st, err)
	}
	if ds, err := r.GetMany(context.Background(), n, []string{"o1"}); err != nil || len(ds) != 1 {
		t.Errorf("ReadOnly GetMany = %v, %v", ds, err)
	}
}

// testConditionalCheckpoint checks Batch.IfCheckpoint: a batch applies only
// when the stored checkpoint is the expected one, and writes nothing
// otherwise, including after a Drop.
func testConditionalCheckpoint(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := context.Background()
	n := ns("fenced")
	doc := func(id string, seq uint64) readmodel.Write {
		return readmodel.Write{ID: id, Revision: readmodel.Revision{Sequence: seq}, Data: []byte(id)}
	}
	cond := func(cp string) *string { return &cp }

	// A namespace never written has the empty checkpoint.
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []readmodel.Write{doc("a", 1)}, Checkpoint: "e1", IfCheckpoint: cond("other")}); !errors.Is(err, readmodel.ErrCheckpointMismatch) {
		t.Fatalf("Apply expecting %q on a new namespace = %v, want ErrCheckpointMismatch", "other", err)
	}
	if st, err := s.State(ctx, n); err != nil || st.Initialized {
		t.Fatalf("a refused batch initialized the namespace: %+v, %v", st, err)
	}
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []readmodel.Write{doc("a", 1)}, Checkpoint: "e1", IfCheckpoint: cond("")}); err != nil {
		t.Fatalf("Apply expecting the empty checkpoint on a new namespace = %v", err)
	}
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []readmodel.Write{doc("b", 2)}, Checkpoint: "e1", IfCheckpoint: cond("")}); !errors.Is(err, readmodel.ErrCheckpointMismatch) {
		t.Fatalf("a second Apply expecting the empty checkpoint = %v, want ErrCheckpointMismatch", err)
	}
	if _, err := s.Get(ctx, n, "b"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Errorf("a refused batch wrote document b: %v", err)
	}
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []readmodel.Write{doc("b", 2)}, IfCheckpoint: cond("e1")}); err != nil {
		t.Fatalf("Apply expecting the stored checkpoint = %v", err)
	}
	if _, err := s.Get(ctx, n, "b"); err != nil {
		t.Errorf("document b after a matching batch: %v", err)
	}
	if err := s.Drop(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []readmodel.Write{doc("c", 3)}, IfCheckpoint: cond("e1")}); !errors.Is(err, readmodel.ErrCheckpointMismatch) {
		t.Errorf("Apply expecting the checkpoint of a dropped namespace = %v, want ErrCheckpointMismatch", err)
	}
	if st, err := s.State(ctx, n); err != nil || st.Initialized {
		t.Errorf("a refused batch after Drop initialized the namespace: %+v, %v", st, err)
	}
}
