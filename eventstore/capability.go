package eventstore

import (
	"context"
	"errors"
	"fmt"
)

// KeyedAppender is the capability of stores that make whole commands
// idempotent: AppendKeyed records commandKey atomically with the events, and
// a later AppendKeyed with the same key, from any process, stores nothing and
// returns the first append's result with Replayed set. Keys are kept for a
// store-defined retention period. An empty commandKey behaves like Append.
// [OutcomeStore] adds the key's lookup. Reach it with [Keyed].
type KeyedAppender interface {
	Store
	AppendKeyed(ctx context.Context, commandKey, streamID string, expected ExpectedVersion, events []Event) (AppendResult, error)
}

// HeadReader is the capability of logs that know their last position, for
// lag and progress reports. Reach it with [Head].
type HeadReader interface {
	// Head returns the position of the last event visible to ReadAll, or
	// the zero Position for an empty log.
	Head(ctx context.Context) (Position, error)
}

// Notifier is the capability of logs that wake tailers after an append in
// the same process, so that they need not poll often. Reach it with [As].
type Notifier interface {
	// Changed returns a channel that is closed at the next append.
	Changed() <-chan struct{}
}

// TenantScoper is the capability of stores that hold several tenants (see
// Tenants in the package doc). Reach the views with [ForTenant] and
// [AllTenants]; the adapters' own ForTenant and AllTenants methods return
// the same views with their concrete types.
type TenantScoper interface {
	// StoreForTenant returns the view confined to tenant. It fails with an
	// error matching ErrInvalidInput when tenant is not a valid tenant ID.
	StoreForTenant(tenant string) (Store, error)
	// StoreForAllTenants returns the reader of every tenant's events.
	StoreForAllTenants() LogReader
}

// AllTenantsView is the capability of logs that can tell whether they read
// every tenant's events (a TenantScoper's StoreForAllTenants, or a source
// reading it), so that tools measuring a reader's lag compare it with the
// right head. Ask with [ReadsAllTenants].
type AllTenantsView interface {
	// ReadsAllTenants reports whether ReadAll and Head cover every
	// tenant's events.
	ReadsAllTenants() bool
}

// maxUnwrap bounds the chain As follows, so that a wrapper that unwraps to
// itself cannot hang the caller.
const maxUnwrap = 100

// As returns the capability T of v, a Store, a LogReader or anything
// wrapping one, and whether v has it. It is the one place eventfold asks
// for a capability; every accessor of this package calls it. For each value
// in the chain, starting at v, it tries, in order:
//
//   - the value itself, when it implements T;
//   - its method As(target any) bool, when it has one: as with errors.As,
//     target is a non-nil *T, and a true result means As set *target. A
//     wrapper that must intercept a capability (Instrument does, to run
//     its hooks) offers it this way;
//   - the next value in the chain: its Unwrap() Store or Unwrap() LogReader
//     method's result.
//
// A decorator that embeds a Store and has an Unwrap method therefore keeps
// every capability of the store it wraps, including those eventfold does
// not know, without implementing them.
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
	case interface{ Unwrap() LogReader }:
		if r := w.Unwrap(); r != nil {
			return r
		}
	}
	return nil
}

// unsupported is the error of an accessor whose capability v lacks.
func unsupported(v any, what string) error {
	return fmt.Errorf("eventstore: %T %s: %w", v, what, errors.ErrUnsupported)
}

// Keyed returns the KeyedAppender of s, or an error matching
// errors.ErrUnsupported when s has no command keys.
func Keyed(s Store) (KeyedAppender, error) {
	k, ok := As[KeyedAppender](s)
	if !ok {
		return nil, unsupported(s, "has no command keys")
	}
	return k, nil
}

// Outcomes returns the OutcomeStore of s, or an error matching
// errors.ErrUnsupported when s does not keep command outcomes.
func Outcomes(s Store) (OutcomeStore, error) {
	o, ok := As[OutcomeStore](s)
	if !ok {
		return nil, unsupported(s, "does not keep the outcomes of keyed commands")
	}
	return o, nil
}

// Head returns the last position of r's log. It fails with an error
// matching errors.ErrUnsupported when r has no HeadReader.
func Head(ctx context.Context, r LogReader) (Position, error) {
	h, ok := As[HeadReader](r)
	if !ok {
		return Position{}, unsupported(r, "does not know the head of its log")
	}
	return h.Head(ctx)
}

// ForTenant returns s's view confined to tenant. It fails with an error
// matching errors.ErrUnsupported when s has no TenantScoper, and with one
// matching ErrInvalidInput when tenant is not a valid tenant ID.
func ForTenant(s Store, tenant string) (Store, error) {
	ts, ok := As[TenantScoper](s)
	if !ok {
		return nil, unsupported(s, "has no tenant views")
	}
	return ts.StoreForTenant(tenant)
}

// AllTenants returns s's reader of every tenant's events. It fails with an
// error matching errors.ErrUnsupported when s has no TenantScoper.
func AllTenants(s Store) (LogReader, error) {
	ts, ok := As[TenantScoper](s)
	if !ok {
		return nil, unsupported(s, "has no tenant views")
	}
	return ts.StoreForAllTenants(), nil
}

// ReadsAllTenants reports whether v (a LogReader, a source, or anything
// wrapping one) reads every tenant's log. It is false for values that
// cannot tell.
func ReadsAllTenants(v any) bool {
	a, ok := As[AllTenantsView](v)
	return ok && a.ReadsAllTenants()
}
