package readmodel_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/readmodel"
)

// TestValueOrder checks that Value keys order as their values do, on random
// samples of each kind, and that no key is a prefix of another.
func TestValueOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(kind string, n int, less func(i, j int) bool, val func(i int) readmodel.Value) {
		for i := range n {
			for j := range n {
				ki, kj := val(i).Key(), val(j).Key()
				if less(i, j) != (ki < kj) {
					t.Fatalf("%s: order of #%d and #%d disagrees with their keys", kind, i, j)
				}
				if ki != kj && (strings.HasPrefix(ki, kj) || strings.HasPrefix(kj, ki)) {
					t.Fatalf("%s: key of #%d and #%d: one is a prefix of the other", kind, i, j)
				}
			}
		}
	}
	ints := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}
	floats := []float64{math.Inf(-1), -1, 0, 1, math.Inf(1), math.MaxFloat64, -math.MaxFloat64}
	strs := []string{"", "\x00", "\x00\x01", "\x00\xff", "a", "a\x00", "ab", "\xff"}
	for range 60 {
		ints = append(ints, int64(rng.Uint64()))
		floats = append(floats, rng.NormFloat64()*math.Pow(10, float64(rng.IntN(40)-20)))
		b := make([]byte, rng.IntN(4))
		for i := range b {
			b[i] = []byte{0, 1, 'a', 0xff}[rng.IntN(4)]
		}
		strs = append(strs, string(b))
	}
	check("int", len(ints), func(i, j int) bool { return ints[i] < ints[j] }, func(i int) readmodel.Value { return readmodel.Int(ints[i]) })
	check("float", len(floats), func(i, j int) bool { return floats[i] < floats[j] }, func(i int) readmodel.Value { return readmodel.Float(floats[i]) })
	check("string", len(strs), func(i, j int) bool { return strs[i] < strs[j] }, func(i int) readmodel.Value { return readmodel.String(strs[i]) })
}

func TestEntryID(t *testing.T) {
	t.Parallel()
	for _, v := range []readmodel.Value{readmodel.Int(-3), readmodel.Uint(9), readmodel.Float(1.5), readmodel.String("a\x00\x01b"), readmodel.String("")} {
		for _, id := range []string{"x", "\x00\x01", "a:b{c}"} {
			got, ok := readmodel.EntryID(readmodel.EntryKey(v, id))
			if !ok || got != id {
				t.Errorf("EntryID(EntryKey(%q, %q)) = %q, %v", v.Key(), id, got, ok)
			}
		}
	}
	for _, bad := range []string{"", "\x10abc", "\x20abc", "\x99"} {
		if _, ok := readmodel.EntryID(bad); ok {
			t.Errorf("EntryID(%q) accepted a malformed entry", bad)
		}
	}
}

func TestRevisionCompare(t *testing.T) {
	t.Parallel()
	revs := []readmodel.Revision{{0, 1}, {0, math.MaxUint64}, {1, 0}, {1, 2}, {math.MaxUint64, 0}}
	if !sort.SliceIsSorted(revs, func(i, j int) bool { return revs[i].Compare(revs[j]) < 0 }) {
		t.Fatal("revisions are not ordered as tuples")
	}
	for i := range revs {
		for j := range revs {
			if got, want := revs[i].Compare(revs[j]), cmpInt(i, j); got != want {
				t.Errorf("%v.Compare(%v) = %d, want %d", revs[i], revs[j], got, want)
			}
		}
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
