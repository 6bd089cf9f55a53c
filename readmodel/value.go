package readmodel

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"time"
)

// Value is a value a document is indexed under. Build one with Int, Uint,
// Float, Time or String. Values of one kind order naturally: numbers
// numerically, times chronologically, strings byte-wise. Values of
// different kinds order by kind, so an index should hold one kind only
// (Int and Time are the same kind, in nanoseconds). The zero Value means
// "no value": a Model leaves a document out of an index for it, and a Query
// reads it as "unbounded".
//
// A Value is carried in an order-preserving byte encoding (see Key), which
// is what adapters store.
type Value struct {
	key string
}

// Kind tags of the encoding. Numbers take 8 bytes after the tag; strings are
// escaped and terminated.
const (
	tagInt    = 0x10
	tagUint   = 0x11
	tagFloat  = 0x12
	tagString = 0x20
)

// Int returns the Value of a signed integer.
func Int(n int64) Value { return fixed(tagInt, uint64(n)^(1<<63)) }

// Uint returns the Value of an unsigned integer.
func Uint(n uint64) Value { return fixed(tagUint, n) }

// Time returns the Value of t, as Int(t.UnixNano()). Times outside the years
// 1678 to 2262 do not fit and are not supported.
func Time(t time.Time) Value { return Int(t.UnixNano()) }

// Float returns the Value of f. Negative zero is zero; every NaN is the same
// value, ordered after +Inf.
func Float(f float64) Value {
	switch {
	case f == 0:
		f = 0
	case math.IsNaN(f):
		f = math.NaN()
	}
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return fixed(tagFloat, b)
}

// String returns the Value of s, which may hold any bytes.
func String(s string) Value {
	var b strings.Builder
	b.Grow(len(s) + 3)
	b.WriteByte(tagString)
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == 0 {
			b.WriteByte(0xff)
		}
	}
	b.WriteString("\x00\x01")
	return Value{key: b.String()}
}

func fixed(tag byte, n uint64) Value {
	var b [9]byte
	b[0] = tag
	binary.BigEndian.PutUint64(b[1:], n)
	return Value{key: string(b[:])}
}

// IsZero reports whether v is the zero Value.
func (v Value) IsZero() bool { return v.key == "" }

// Key returns v's order-preserving encoding: for any two values, comparing
// their keys byte-wise orders them as the values order. No key is a prefix
// of another. The zero Value's key is empty.
func (v Value) Key() string { return v.key }

// EntryKey returns the byte string that places document id in an index under
// v: v.Key() followed by id. Comparing entry keys byte-wise gives the index
// order of Query. Adapters store entry keys (a Redis sorted set with equal
// scores keeps them in this order) and can split one with EntryID.
func EntryKey(v Value, id string) string { return v.key + id }

// EntryID returns the document ID of an entry key made by EntryKey, and false
// if entry is not one.
func EntryID(entry string) (string, bool) {
	if entry == "" {
		return "", false
	}
	switch entry[0] {
	case tagInt, tagUint, tagFloat:
		if len(entry) < 9 {
			return "", false
		}
		return entry[9:], true
	case tagString:
		i := strings.Index(entry, "\x00\x01")
		if i < 0 {
			return "", false
		}
		return entry[i+2:], true
	}
	return "", false
}

// Span is the range of entry keys a Query selects once its cursor is taken
// into account: keys k with Lo <= k < Hi, byte-wise. An empty Hi means no
// upper bound. Adapters scan it forwards, or backwards for a descending
// query.
type Span struct {
	Lo, Hi string
}

// Span validates q and returns the range of entry keys it selects. A cursor
// that is not one this package made fails with ErrInvalidInput.
func (q Query) Span() (Span, error) {
	if err := q.Validate(); err != nil {
		return Span{}, err
	}
	s := Span{Lo: q.Min.key}
	if !q.Max.IsZero() {
		s.Hi = successor(q.Max.key)
	}
	if q.Cursor == "" {
		return s, nil
	}
	last, err := decodeCursor(q.Cursor)
	if err != nil {
		return Span{}, err
	}
	if q.Descending {
		if s.Hi == "" || last < s.Hi {
			s.Hi = last
		}
	} else if next := last + "\x00"; next > s.Lo {
		// last+"\x00" is the smallest key after last.
		s.Lo = next
	}
	return s, nil
}

// Empty reports whether s holds no key.
func (s Span) Empty() bool { return s.Hi != "" && s.Lo >= s.Hi }

// successor returns the smallest string greater than every string that has
// prefix p, or "" if there is none.
func successor(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// Cursor returns the Page.Next cursor that continues a query after the entry
// key last, the last entry of a page.
func Cursor(last string) string {
	return "c" + base64.RawURLEncoding.EncodeToString([]byte(last))
}

func decodeCursor(c string) (string, error) {
	if !strings.HasPrefix(c, "c") {
		return "", invalid("query cursor", "was not returned by a query")
	}
	b, err := base64.RawURLEncoding.DecodeString(c[1:])
	if err != nil {
		return "", &InvalidInputError{Field: "query cursor", Reason: "was not returned by a query", Err: err}
	}
	if _, ok := EntryID(string(b)); !ok {
		return "", invalid("query cursor", "was not returned by a query")
	}
	return string(b), nil
}
