package redisstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/readmodel"
	"github.com/eventfold/eventfold/readmodel/readmodeltest"
	"github.com/redis/go-redis/v9"
)

func newStore(t testing.TB) (*redisstore.Store, *redis.Client, string) {
	t.Helper()
	c, prefix := testenv.Redis(t)
	prefix += ":"
	s, err := redisstore.New(c, &redisstore.Options{Prefix: prefix, ScanCount: 50})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, prefix
}

func TestConformance(t *testing.T) {
	t.Parallel()
	readmodeltest.Run(t, readmodeltest.Config{
		New: func(t testing.TB) readmodel.Store {
			s, _, _ := newStore(t)
			return s
		},
	})
}

func TestNewRejectsBraces(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, p := range []string{"a{b", "}", "{x}:"} {
		if _, err := redisstore.New(c, &redisstore.Options{Prefix: p}); err == nil {
			t.Errorf("New(prefix %q) succeeded, want an error", p)
		}
	}
	if _, err := redisstore.New(nil, nil); err == nil {
		t.Error("New(nil client) succeeded, want an error")
	}
}

// keys returns every key under prefix.
func keys(t testing.TB, c *redis.Client, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := c.Scan(ctx, 0, strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(prefix)+"*", 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hashTag returns what Redis Cluster hashes for key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// TestKeyLayout writes hostile namespaces, IDs and index names and checks
// that every key stays under the prefix, that all keys of a namespace share
// one hash tag (one Cluster slot), that different namespaces have different
// tags, and that no user byte appears unescaped.
func TestKeyLayout(t *testing.T) {
	t.Parallel()
	s, c, prefix := newStore(t)
	ctx := context.Background()
	hostile := []string{":", "{", "}", "*", " ", "\n", "a:b", "}{", "%41", "A", "\x00", "?", "[x]"}
	var nss []readmodel.Namespace
	for _, h := range hostile {
		nss = append(nss, readmodel.Namespace{Projection: "p" + h, Version: h, Tenant: h + "t"})
	}
	for _, ns := range nss {
		var b readmodel.Batch
		for i, h := range hostile {
			b.Writes = append(b.Writes, readmodel.Write{
				ID: "id" + h, Revision: readmodel.Revision{Sequence: uint64(i + 1)}, Data: []byte(h),
				Entries: []readmodel.Entry{{Index: "ix" + h, Value: readmodel.String(h)}},
			})
		}
		b.Checkpoint = "cp"
		if _, err := s.Apply(ctx, ns, b); err != nil {
			t.Fatal(err)
		}
	}
	ks := keys(t, c, prefix)
	// Per namespace: a state hash, one hash per document, one set per index.
	if want := len(nss) * (1 + 2*len(hostile)); len(ks) != want {
		t.Fatalf("%d keys, want %d", len(ks), want)
	}
	tags := map[string]int{}
	for _, k := range ks {
		if !strings.HasPrefix(k, prefix) {
			t.Errorf("key %q is not under prefix %q", k, prefix)
		}
		rest := k[len(prefix):]
		if strings.ContainsAny(rest, " \n\x00*?[]") {
			t.Errorf("key %q holds an unescaped user byte", k)
		}
		if strings.Count(rest, "{") != 1 || strings.Count(rest, "}") != 1 {
			t.Errorf("key %q has braces beyond its hash tag", k)
		}
		tags[hashTag(k)]++
	}
	if len(tags) != len(nss) {
		t.Errorf("%d distinct hash tags, want one per namespace (%d): %v", len(tags), len(nss), tags)
	}
	for tag, n := range tags {
		if n != 1+2*len(hostile) {
			t.Errorf("hash tag %q covers %d keys, want %d", tag, n, 1+2*len(hostile))
		}
	}
}

// TestDataLoss checks that a namespace whose keys vanish (a restart without
// persistence, a flush) reports itself uninitialized.
func TestDataLoss(t *testing.T) {
	t.Parallel()
	s, c, prefix := newStore(t)
	ctx := context.Background()
	ns := readmodel.Namespace{Projection: "orders", Version: "v1"}
	if _, err := s.Apply(ctx, ns, readmodel.Batch{
		Writes:     []readmodel.Write{{ID: "o1", Revision: readmodel.Revision{Sequence: 1}, Data: []byte("{}")}},
		Checkpoint: "1",
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(ctx, ns); err != nil || !st.Initialized {
		t.Fatalf("State = %+v, %v; want initialized", st, err)
	}
	if err := c.Unlink(ctx, keys(t, c, prefix)...).Err(); err != nil {
		t.Fatal(err)
	}
	st, err := s.State(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if st != (readmodel.State{}) {
		t.Errorf("State after the data was lost = %+v, want uninitialized", st)
	}
}

// TestDropLeavesNothing checks that Drop removes every key of a namespace,
// including tombstones, across several SCAN pages.
func TestDropLeavesNothing(t *testing.T) {
	t.Parallel()
	s, c, prefix := newStore(t)
	ctx := context.Background()
	ns := readmodel.Namespace{Projection: "big", Tenant: "*"}
	keep := readmodel.Namespace{Projection: "big", Tenant: "other"}
	var b readmodel.Batch
	for i := range 300 {
		b.Writes = append(b.Writes, readmodel.Write{
			ID: strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("*", i/26), Revision: readmodel.Revision{Sequence: 1},
			Delete: i%3 == 0,
		})
		if !b.Writes[i].Delete {
			b.Writes[i].Entries = []readmodel.Entry{{Index: "n", Value: readmodel.Int(int64(i))}}
		}
	}
	for _, n := range []readmodel.Namespace{ns, keep} {
		if _, err := s.Apply(ctx, n, b); err != nil {
			t.Fatal(err)
		}
	}
	before := len(keys(t, c, prefix))
	if err := s.Drop(ctx, ns); err != nil {
		t.Fatal(err)
	}
	after := len(keys(t, c, prefix))
	if before != 2*after {
		t.Errorf("%d keys before Drop, %d after; want half left", before, after)
	}
}
