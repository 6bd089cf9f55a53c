package redisstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/readmodel"
)

// Keys are built from user data (projection names, versions, tenants,
// document IDs, index names) that may hold Redis glob and hash-tag
// characters. Two different (namespace, id) pairs never share a key, a
// document key never equals an index or meta key, and every key of a
// namespace carries the same hash tag.
func FuzzKeysInjective(f *testing.F) {
	f.Add("p", "1", "", "a", "p", "1", "", "b")
	f.Add("p:1", "", "", "x", "p", "1:", "", "x")
	f.Add("{p}", "*", "?", "[a]", "%7Bp%7D", "%2A", "%3F", "%5Ba%5D")
	f.Add("p", "v", "t", "d:x", "p", "v", "t", "i:x")
	f.Add("p}:{q", "", "", "", "p", "", "", "}:{q")
	f.Add("名前", "\xff", "\x00", "id", "名前", "\xff", "\x00", "id%")
	f.Fuzz(func(t *testing.T, p1, v1, t1, id1, p2, v2, t2, id2 string) {
		s := &Store{prefix: "pre:"}
		ns1 := readmodel.Namespace{Projection: p1, Version: v1, Tenant: t1}
		ns2 := readmodel.Namespace{Projection: p2, Version: v2, Tenant: t2}
		b1, b2 := s.base(ns1), s.base(ns2)
		same := ns1 == ns2 && id1 == id2
		if got := docKey(b1, id1) == docKey(b2, id2); got != same {
			t.Fatalf("docKey(%+v, %q) = %q, docKey(%+v, %q) = %q: equal %v, want %v", ns1, id1, docKey(b1, id1), ns2, id2, docKey(b2, id2), got, same)
		}
		if got := indexKey(b1, id1) == indexKey(b2, id2); got != same {
			t.Fatalf("indexKey(%+v, %q) = %q, indexKey(%+v, %q) = %q: equal %v, want %v", ns1, id1, indexKey(b1, id1), ns2, id2, indexKey(b2, id2), got, same)
		}
		keys := []string{docKey(b1, id1), indexKey(b1, id1), metaKey(b1), docKey(b2, id2), indexKey(b2, id2), metaKey(b2)}
		if keys[0] == keys[4] || keys[0] == keys[5] || keys[1] == keys[3] || keys[2] == keys[3] || keys[0] == keys[1] || keys[0] == keys[2] {
			t.Fatalf("keys of different kinds collide: %q", keys)
		}
		if (b1 == b2) != (ns1 == ns2) {
			t.Fatalf("base(%+v) = %q, base(%+v) = %q", ns1, b1, ns2, b2)
		}
		for _, k := range keys {
			rest := strings.TrimPrefix(k, "pre:")
			// One hash tag, at the start, and no glob character outside it
			// but the escaped ones.
			if strings.Count(rest, "{") != 1 || strings.Count(rest, "}") != 1 || !strings.HasPrefix(rest, "{") {
				t.Fatalf("key %q does not hold exactly one hash tag at the start", k)
			}
			if strings.ContainsAny(rest, "*?[]\\") {
				t.Fatalf("key %q holds a glob character", k)
			}
		}
	})
}

// Revisions are stored as 32 lowercase hex digits, which the scripts
// compare chunk by chunk: encodeRevision must keep exactly that form (the
// one earlier versions wrote with fmt) and round-trip through
// decodeRevision.
func FuzzRevisionEncoding(f *testing.F) {
	f.Add(uint64(0), uint64(0))
	f.Add(uint64(7), uint64(100))
	f.Add(^uint64(0), ^uint64(0))
	f.Add(uint64(1)<<60, uint64(1)<<60+1)
	f.Fuzz(func(t *testing.T, commit, seq uint64) {
		r := readmodel.Revision{Commit: commit, Sequence: seq}
		got := encodeRevision(r)
		if want := fmt.Sprintf("%016x%016x", commit, seq); got != want {
			t.Fatalf("encodeRevision(%v) = %q, want %q", r, got, want)
		}
		back, err := decodeRevision(got)
		if err != nil || back != r {
			t.Fatalf("decodeRevision(%q) = %v, %v; want %v", got, back, err, r)
		}
	})
}
