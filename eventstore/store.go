package eventstore

import (
	"context"
	"errors"
	"fmt"
)

// Store appends events to streams and reads them back. Implementations are
// safe for concurrent use.
type Store interface {
	// Append atomically appends events, in order, to the stream if it is
	// where expected says; otherwise it stores nothing and returns a
	// *ConcurrencyError. On success it returns the stream's new version and
	// the position of the last event appended. Invalid input is rejected
	// with an *InvalidInputError before anything is written. A retry of an
	// earlier append with the same event IDs returns that append's result
	// and stores nothing (see the package doc). On cancellation either all
	// events are stored or none. Append does not retain events.
	Append(ctx context.Context, streamID string, expected ExpectedVersion, events []Event) (AppendResult, error)

	// ReadStream returns up to limit events of one stream in the given
	// direction, starting at version from (inclusive). A forward read from
	// 0 or 1 starts at the first event; a backward read from StreamEnd
	// starts at the last. A limit of 0 means no limit. A stream with no
	// events fails with ErrStreamNotFound; reading past either end of an
	// existing stream returns no records and no error.
	ReadStream(ctx context.Context, streamID string, from int64, dir Direction, limit int) ([]Record, error)

	// ReadAll returns up to limit events of the global log that come after
	// the position after, in log order. A limit of 0 means an
	// implementation-chosen batch size. ReadAll never returns an event
	// while an event ordered before it may still appear: once a caller has
	// seen position p, no event ordered before p is ever stored. An empty
	// result means nothing more is visible yet.
	ReadAll(ctx context.Context, after Position, limit int) ([]Record, error)
}

// AppendResult is the outcome of a successful Append.
type AppendResult struct {
	// StreamVersion is the version of the stream's last event after the
	// append.
	StreamVersion int64
	// Position is the global position of the last event appended: the
	// consistency token a query can wait for.
	Position Position
	// Replayed is true when the append had been done before (same event IDs,
	// or same command key) and this call stored nothing.
	Replayed bool
}

// KeyedAppender is implemented by stores that make whole commands
// idempotent: AppendKeyed records commandKey atomically with the events, and
// a later AppendKeyed with the same key, from any process, stores nothing and
// returns the first append's result with Replayed set. Keys are kept for a
// store-defined retention period. An empty commandKey behaves like Append.
type KeyedAppender interface {
	Store
	AppendKeyed(ctx context.Context, commandKey, streamID string, expected ExpectedVersion, events []Event) (AppendResult, error)
}

// TenantScoper is implemented by stores that hold several tenants (see
// Tenants in the package doc) so that code holding only a Store, such as a
// decorator adding metrics or tracing, can reach their tenant views and
// keep them decorated. The adapters' own ForTenant and AllTenants return
// their concrete types; these return the same views as Stores.
type TenantScoper interface {
	Store
	// StoreForTenant returns the view confined to tenant, as ForTenant.
	StoreForTenant(tenant string) (Store, error)
	// StoreForAllTenants returns the reader of every tenant's events, as
	// AllTenants.
	StoreForAllTenants() Store
}

// AllTenantsView is implemented by stores that can tell whether they are
// the view of every tenant's log (a TenantScoper's StoreForAllTenants), so
// that tools measuring a reader's lag compare it with the right head.
type AllTenantsView interface {
	// ReadsAllTenants reports whether ReadAll and Head cover every
	// tenant's events.
	ReadsAllTenants() bool
}

// ReadsAllTenants reports whether v (a Store, or anything wrapping one that
// forwards AllTenantsView) reads every tenant's log. It is false for values
// that cannot tell.
func ReadsAllTenants(v any) bool {
	a, ok := v.(AllTenantsView)
	return ok && a.ReadsAllTenants()
}

// ForTenant returns s's view confined to tenant. It fails with an error
// matching errors.ErrUnsupported when s does not implement TenantScoper,
// and with one matching ErrInvalidInput when tenant is not a valid tenant
// ID.
func ForTenant(s Store, tenant string) (Store, error) {
	ts, ok := s.(TenantScoper)
	if !ok {
		return nil, fmt.Errorf("eventstore: %T has no tenant views: %w", s, errors.ErrUnsupported)
	}
	return ts.StoreForTenant(tenant)
}

// AllTenants returns s's reader of every tenant's events. It fails with an
// error matching errors.ErrUnsupported when s does not implement
// TenantScoper.
func AllTenants(s Store) (Store, error) {
	ts, ok := s.(TenantScoper)
	if !ok {
		return nil, fmt.Errorf("eventstore: %T has no tenant views: %w", s, errors.ErrUnsupported)
	}
	return ts.StoreForAllTenants(), nil
}
