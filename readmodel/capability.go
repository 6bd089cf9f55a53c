package readmodel

// maxUnwrap bounds the chain As follows, so that a wrapper that unwraps to
// itself cannot hang the caller.
const maxUnwrap = 100

// As returns the capability T of v, a Reader, a Store or anything wrapping
// one, and whether v has it. It is the one place package readmodel and its
// callers ask for a capability (Writer on a Reader, or an adapter's own).
// It follows the rules of eventstore.As: for each value in the chain,
// starting at v, it tries the value itself, then its As(target any) bool
// method (target is a non-nil *T; a true result means As set *target),
// then the next value: its Unwrap() Store or Unwrap() Reader method's
// result. A decorator that embeds a Store and has an Unwrap method
// therefore keeps the capabilities of the store it wraps. ReadOnly has
// neither method, so As finds nothing behind it but a Reader.
func As[T any](v any) (T, bool) {
	for range maxUnwrap {
		if v == nil {
			break
		}
		if c, ok := v.(T); ok {
			return c, true
		}
		if a, ok := v.(interface{ As(target any) bool }); ok {
			var c T
			if a.As(&c) {
				return c, true
			}
		}
		v = unwrap(v)
	}
	var zero T
	return zero, false
}

// unwrap returns what v wraps, or nil.
func unwrap(v any) any {
	switch w := v.(type) {
	case interface{ Unwrap() Store }:
		if s := w.Unwrap(); s != nil {
			return s
		}
	case interface{ Unwrap() Reader }:
		if r := w.Unwrap(); r != nil {
			return r
		}
	}
	return nil
}

// Writable returns the Writer behind r, and whether r can write: query code
// handed a Reader wrapped with ReadOnly gets false.
func Writable(r Reader) (Writer, bool) { return As[Writer](r) }

// Partitioner is the capability of stores that spread each namespace over
// partitions, as Partitioned does: a Batch is atomic per partition only,
// readers may see a batch that spans partitions applied in some and not
// yet in others, and the store refuses a namespace whose Partition is set,
// as it chooses the partition itself. Reach it with As.
type Partitioner interface {
	// Partitions returns the number of partitions.
	Partitions() int
	// Partition returns the namespace of the underlying store that holds
	// document id of ns.
	Partition(ns Namespace, id string) Namespace
}

var _ Partitioner = (*Partitioned)(nil)
