package command

import (
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/eventstore"
)

// SnapshotTenantScoper is the capability of snapshot stores that hold
// several tenants' snapshots. Reach a tenant's view with
// [SnapshotsForTenant]; the adapters' own ForTenant methods return the same
// views with their concrete types.
type SnapshotTenantScoper interface {
	// SnapshotsForTenant returns the view confined to tenant. It fails
	// with an error matching eventstore.ErrInvalidInput when tenant is not
	// a valid tenant ID.
	SnapshotsForTenant(tenant string) (SnapshotStore, error)
}

// KeyTenantScoper is the capability of key stores that hold several
// tenants' keys: the same subject in two tenants has two keys. Reach a
// tenant's view with [KeysForTenant].
type KeyTenantScoper interface {
	// KeysForTenant returns the view confined to tenant. It fails with an
	// error matching eventstore.ErrInvalidInput when tenant is not a valid
	// tenant ID.
	KeysForTenant(tenant string) (KeyStore, error)
}

// As returns the capability T of v, a SnapshotStore, a KeyStore or anything
// wrapping one, and whether v has it. It is the one place package command
// asks for a capability, and follows the rules of eventstore.As: v itself,
// then its As(target any) bool method.
func As[T any](v any) (T, bool) { return eventstore.As[T](v) }

// SnapshotsForTenant returns s's view of tenant's snapshots. It fails with
// an error matching errors.ErrUnsupported when s has no
// SnapshotTenantScoper, and with one matching eventstore.ErrInvalidInput
// when tenant is not a valid tenant ID.
func SnapshotsForTenant(s SnapshotStore, tenant string) (SnapshotStore, error) {
	ts, ok := As[SnapshotTenantScoper](s)
	if !ok {
		return nil, fmt.Errorf("command: %T has no tenant views: %w", s, errors.ErrUnsupported)
	}
	return ts.SnapshotsForTenant(tenant)
}

// KeysForTenant returns k's view of tenant's keys. It fails with an error
// matching errors.ErrUnsupported when k has no KeyTenantScoper, and with one
// matching eventstore.ErrInvalidInput when tenant is not a valid tenant ID.
func KeysForTenant(k KeyStore, tenant string) (KeyStore, error) {
	ts, ok := As[KeyTenantScoper](k)
	if !ok {
		return nil, fmt.Errorf("command: %T has no tenant views: %w", k, errors.ErrUnsupported)
	}
	return ts.KeysForTenant(tenant)
}
