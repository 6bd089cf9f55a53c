package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/readmodel"
	"github.com/eventfold/eventfold/readmodel/readmodeltest"
	"github.com/redis/go-redis/v9"
)

// TestCluster runs the conformance suite and the checks that only a cluster
// can fail (slots, nodes, Drop's SCAN of every master) on a Redis Cluster of
// three masters that the test starts itself.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := testenv.RedisCluster(t)
	var stores atomic.Int64
	newStore := func(t testing.TB, scanCount int) (*redisstore.Store, string) {
		t.Helper()
		prefix := fmt.Sprintf("cl%d:", stores.Add(1))
		s, err := redisstore.New(c, &redisstore.Options{Prefix: prefix, ScanCount: scanCount})
		if err != nil {
			t.Fatal(err)
		}
		return s, prefix
	}

	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		readmodeltest.Run(t, readmodeltest.Config{
			New: func(t testing.TB) readmodel.Store {
				s, _ := newStore(t, 50)
				return s
			},
		})
	})
	t.Run("PartitionedConformance", func(t *testing.T) {
		t.Parallel()
		const n = 6
		readmodeltest.Run(t, readmodeltest.Config{
			New: func(t testing.TB) readmodel.Store {
				s, _ := newStore(t, 50)
				p, err := readmodel.NewPartitioned(s, n)
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
			PartitionOf: func(id string) int { return readmodel.PartitionOf(id, n) },
		})
	})
	t.Run("Spread", func(t *testing.T) {
		t.Parallel()
		s, prefix := newStore(t, 10)
		testClusterSpread(t, c, s, prefix)
	})
	t.Run("Slots", func(t *testing.T) {
		t.Parallel()
		s, prefix := newStore(t, 0)
		testClusterSlots(t, c, s, prefix)
	})
	t.Run("Drop", func(t *testing.T) {
		t.Parallel()
		s, prefix := newStore(t, 10)
		testClusterDrop(t, c, s, prefix)
	})
}

// clusterKeys returns every key under prefix, found with SCAN on each
// master, and the address of the master that holds it.
func clusterKeys(t testing.TB, c *redis.ClusterClient, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	found := map[string]string{}
	pattern := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(prefix) + "*"
	err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			found[iter.Val()] = node.Options().Addr
			mu.Unlock()
		}
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// masterOf returns the address of the master that serves key's slot.
func masterOf(t testing.TB, c *redis.ClusterClient, key string) string {
	t.Helper()
	node, err := c.MasterForKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return node.Options().Addr
}

// fill writes docs documents, with two indexes, to each namespace and
// deletes every third one, leaving a tombstone.
func fill(t testing.TB, s *redisstore.Store, nss []readmodel.Namespace, docs int) {
	t.Helper()
	for _, ns := range nss {
		var b readmodel.Batch
		for i := range docs {
			w, err := accounts.Put(fmt.Sprintf("acc-%02d", i), readmodel.Revision{Commit: 1, Sequence: uint64(i + 1)},
				account{Owner: fmt.Sprint("owner-", i%3), Balance: int64(i)})
			if err != nil {
				t.Fatal(err)
			}
			b.Writes = append(b.Writes, w)
		}
		for i := 0; i < docs; i += 3 {
			b.Writes = append(b.Writes, accounts.Delete(fmt.Sprintf("acc-%02d", i), readmodel.Revision{Commit: 2, Sequence: uint64(i + 1)}))
		}
		b.Checkpoint = "2"
		if _, err := s.Apply(context.Background(), ns, b); err != nil {
			t.Fatal(err)
		}
	}
}

// testClusterSlots checks that each namespace's keys share one slot and sit
// on the master that serves it, that namespaces spread over the masters,
// and that batched reads work on every master.
func testClusterSlots(t *testing.T, c *redis.ClusterClient, s *redisstore.Store, prefix string) {
	ctx := context.Background()
	var nss []readmodel.Namespace
	for i := range 48 {
		nss = append(nss, readmodel.Namespace{Projection: fmt.Sprint("p", i%4), Version: fmt.Sprint("v", i%3), Tenant: fmt.Sprint("t", i)})
	}
	const docs = 6
	fill(t, s, nss, docs)

	// Per namespace: the state hash, one hash per document (tombstones
	// included) and one sorted set per index.
	const perNamespace = 1 + docs + 2
	byTag := map[string][]string{}
	where := clusterKeys(t, c, prefix)
	for key := range where {
		byTag[hashTag(key)] = append(byTag[hashTag(key)], key)
	}
	if len(byTag) != len(nss) {
		t.Fatalf("%d hash tags under %q, want one per namespace (%d)", len(byTag), prefix, len(nss))
	}
	nodes := map[string]int{}
	slots := map[int64]bool{}
	for tag, keys := range byTag {
		if len(keys) != perNamespace {
			t.Errorf("namespace {%s} has %d keys, want %d", tag, len(keys), perNamespace)
		}
		slot, err := c.ClusterKeySlot(ctx, keys[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		owner := masterOf(t, c, keys[0])
		for _, k := range keys {
			if got, err := c.ClusterKeySlot(ctx, k).Result(); err != nil || got != slot {
				t.Errorf("CLUSTER KEYSLOT %q = %d, %v; want %d, the slot of %q", k, got, err, slot, keys[0])
			}
			if where[k] != owner {
				t.Errorf("key %q is on %s, want %s, the master of its slot", k, where[k], owner)
			}
		}
		slots[slot] = true
		nodes[owner]++
	}
	t.Logf("%d namespaces on %d slots, namespaces per master: %v", len(nss), len(slots), nodes)
	if len(nodes) < 2 {
		t.Errorf("all %d namespaces are on one master (%v), want them spread over the cluster", len(nss), nodes)
	}

	// GetMany (MULTI/EXEC) and Query (a script) on every namespace, so on
	// every master.
	ids := make([]string, docs)
	for i := range ids {
		ids[i] = fmt.Sprintf("acc-%02d", i)
	}
	for _, ns := range nss {
		got, err := s.GetMany(ctx, ns, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != docs-(docs+2)/3 {
			t.Errorf("GetMany on %v: %d documents, want %d", ns, len(got), docs-(docs+2)/3)
		}
		page, err := s.Query(ctx, ns, readmodel.Equal("by-owner", readmodel.String("owner-1")))
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Documents) != docs/3 {
			t.Errorf("Query on %v: %d documents, want %d", ns, len(page.Documents), docs/3)
		}
	}
}

// testClusterDrop drops namespaces that live on every master, with SCAN
// pages smaller than a namespace, and checks that their keys are gone from
// every node while the other namespaces are untouched.
func testClusterDrop(t *testing.T, c *redis.ClusterClient, s *redisstore.Store, prefix string) {
	ctx := context.Background()
	var nss []readmodel.Namespace
	for i := range 24 {
		nss = append(nss, readmodel.Namespace{Projection: "accounts", Version: "v1", Tenant: fmt.Sprint("tenant-", i)})
	}
	const docs = 40
	fill(t, s, nss, docs)
	before := clusterKeys(t, c, prefix)

	// Drop the odd-numbered namespaces; they must cover every master, or
	// a Drop that scans one node could pass.
	dropped := map[string]bool{}
	droppedOn := map[string]bool{}
	masters := map[string]bool{}
	for _, addr := range before {
		masters[addr] = true
	}
	for i, ns := range nss {
		if i%2 == 0 {
			continue
		}
		if err := s.Drop(ctx, ns); err != nil {
			t.Fatal(err)
		}
		var tag string
		for key, addr := range before {
			if strings.Contains(key, "{"+ns.Projection+":"+ns.Version+":"+ns.Tenant+"}") {
				tag, droppedOn[addr] = hashTag(key), true
			}
		}
		dropped[tag] = true
	}
	if len(masters) != 3 || len(droppedOn) != len(masters) {
		t.Fatalf("dropped namespaces are on %d of the %d masters holding keys, want all of 3", len(droppedOn), len(masters))
	}

	after := clusterKeys(t, c, prefix)
	for key := range after {
		if dropped[hashTag(key)] {
			t.Errorf("key %q of a dropped namespace is left on %s", key, after[key])
		}
	}
	for key, addr := range before {
		if _, ok := after[key]; !ok && !dropped[hashTag(key)] {
			t.Errorf("key %q of a kept namespace vanished from %s", key, addr)
		}
	}
	if want := len(before) / 2; len(after) != want {
		t.Errorf("%d keys left after dropping half of the namespaces, want %d", len(after), want)
	}
	for i, ns := range nss {
		st, err := s.State(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Get(ctx, ns, "acc-01")
		if i%2 == 1 && (st.Initialized || !errors.Is(err, readmodel.ErrNotFound)) {
			t.Errorf("dropped %v: State = %+v, Get = %v; want uninitialized and ErrNotFound", ns, st, err)
		}
		if i%2 == 0 && (!st.Initialized || err != nil) {
			t.Errorf("kept %v: State = %+v, Get = %v; want initialized and found", ns, st, err)
		}
	}
}

// testClusterSpread spreads one read model over 3 and over 6 partitions:
// its keys are on every master, each partition's keys share a slot, reads
// through the Partitioned store see every document, and Drop leaves no key
// anywhere.
func testClusterSpread(t *testing.T, c *redis.ClusterClient, s *redisstore.Store, prefix string) {
	ctx := context.Background()
	for _, n := range []int{3, 6} {
		p, err := readmodel.NewPartitioned(s, n)
		if err != nil {
			t.Fatal(err)
		}
		ns := readmodel.Namespace{Projection: "accounts", Version: fmt.Sprint("v", n)}
		const docs = 120
		var b readmodel.Batch
		for i := range docs {
			w, err := accounts.Put(fmt.Sprintf("acc-%03d", i), readmodel.Revision{Sequence: 1}, account{Owner: fmt.Sprint("owner-", i%3), Balance: int64(i)})
			if err != nil {
				t.Fatal(err)
			}
			b.Writes = append(b.Writes, w)
		}
		if _, err := p.Apply(ctx, ns, b); err != nil {
			t.Fatal(err)
		}
		tagMasters := map[string]string{}
		masters := map[string]int{}
		for key, addr := range clusterKeys(t, c, prefix) {
			if !strings.Contains(key, "{accounts:"+ns.Version+":") {
				continue
			}
			if want, ok := tagMasters[hashTag(key)]; ok && want != addr {
				t.Errorf("key %q is on %s, other keys of its partition on %s", key, addr, want)
			}
			tagMasters[hashTag(key)] = addr
			masters[addr]++
		}
		t.Logf("%d partitions: keys per master %v", n, masters)
		if len(tagMasters) != n || len(masters) != 3 {
			t.Errorf("%d partitions: keys under %d hash tags on %d masters, want %d tags on all 3 masters", n, len(tagMasters), len(masters), n)
		}
		page, err := accounts.View(p, ns).Query(ctx, readmodel.Between("by-balance", readmodel.Int(10), readmodel.Int(19)))
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, it := range page.Items {
			got = append(got, it.Doc.Balance)
		}
		if want := []int64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%d partitions: balances 10 to 19 = %v, want %v", n, got, want)
		}
		if err := p.Drop(ctx, ns); err != nil {
			t.Fatal(err)
		}
		for key := range clusterKeys(t, c, prefix) {
			if strings.Contains(key, "{accounts:"+ns.Version+":") {
				t.Errorf("key %q left after Drop", key)
			}
		}
	}
}
