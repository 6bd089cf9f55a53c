package readmodel_test

import (
	"cmp"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/readmodel"
)

func sign(n int) int { return cmp.Compare(n, 0) }

// Keys order as their values do, for every kind, and the document ID comes
// back out of every entry key.
func FuzzValueOrder(f *testing.F) {
	f.Add(int64(-1), int64(1), uint64(0), uint64(1), 0.5, math.Inf(-1), "a", "a\x00", "id", "id\x00\x01")
	f.Add(int64(math.MinInt64), int64(math.MaxInt64), uint64(math.MaxUint64), uint64(0), math.NaN(), math.Copysign(0, -1), "\xff", "", "", "*{x}")
	f.Add(int64(0), int64(0), uint64(5), uint64(5), 1e300, -1e-300, "x\x00\x01", "x", "\x00", "\xff\xff")
	f.Fuzz(func(t *testing.T, i1, i2 int64, u1, u2 uint64, f1, f2 float64, s1, s2, id1, id2 string) {
		pairs := []struct {
			kind string
			a, b readmodel.Value
			want int
		}{
			{"int", readmodel.Int(i1), readmodel.Int(i2), cmp.Compare(i1, i2)},
			{"uint", readmodel.Uint(u1), readmodel.Uint(u2), cmp.Compare(u1, u2)},
			{"float", readmodel.Float(f1), readmodel.Float(f2), compareFloats(f1, f2)},
			{"string", readmodel.String(s1), readmodel.String(s2), strings.Compare(s1, s2)},
		}
		for _, p := range pairs {
			if got := sign(strings.Compare(p.a.Key(), p.b.Key())); got != p.want {
				t.Fatalf("%s: keys compare %d, values compare %d (%q vs %q)", p.kind, got, p.want, p.a.Key(), p.b.Key())
			}
			for _, v := range []readmodel.Value{p.a, p.b} {
				for _, id := range []string{id1, id2} {
					if got, ok := readmodel.EntryID(readmodel.EntryKey(v, id)); !ok || got != id {
						t.Fatalf("%s: EntryID(EntryKey(%q, %q)) = %q, %v", p.kind, v.Key(), id, got, ok)
					}
				}
			}
			// Entry keys order by value first, then by ID.
			ka, kb := readmodel.EntryKey(p.a, id1), readmodel.EntryKey(p.b, id2)
			want := p.want
			if want == 0 {
				want = strings.Compare(id1, id2)
			}
			if got := sign(strings.Compare(ka, kb)); got != want {
				t.Fatalf("%s: entry keys compare %d, want %d", p.kind, got, want)
			}
			if p.a.Key() != p.b.Key() && (strings.HasPrefix(p.a.Key(), p.b.Key()) || strings.HasPrefix(p.b.Key(), p.a.Key())) {
				t.Fatalf("%s: key %q is a prefix of %q", p.kind, p.a.Key(), p.b.Key())
			}
		}
	})
}

// compareFloats orders floats as Float documents: every NaN is one value,
// after +Inf, and -0 is 0.
func compareFloats(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

// Cursors come from clients: anything that is not a cursor a query made
// fails with ErrInvalidInput, and nothing panics.
func FuzzEntryIDAndCursor(f *testing.F) {
	f.Add("", "")
	f.Add("\x20abc\x00\x01id", "c")
	f.Add("\x10\x00\x00", "cIGFiYwABaWQ")
	f.Add("\x11\x00\x00\x00\x00\x00\x00\x00\x01x", "not a cursor")
	f.Fuzz(func(t *testing.T, entry, cursor string) {
		readmodel.EntryID(entry)
		_, err := readmodel.Query{Index: "ix", Cursor: cursor}.Span()
		if err != nil && !errors.Is(err, readmodel.ErrInvalidInput) {
			t.Fatalf("Span with cursor %q: %v, want an error matching ErrInvalidInput", cursor, err)
		}
		if id, ok := readmodel.EntryID(entry); ok {
			if _, err := (readmodel.Query{Index: "ix", Cursor: readmodel.Cursor(entry)}).Span(); err != nil {
				t.Fatalf("Span with the cursor of entry %q (id %q): %v", entry, id, err)
			}
		}
	})
}
