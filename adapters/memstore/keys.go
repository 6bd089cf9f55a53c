package memstore

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

var _ command.KeyStore = (*Keys)(nil)

// KeysOptions configures Keys. A nil *KeysOptions means all defaults; there
// are none to set yet.
type KeysOptions struct{}

// Keys is an in-memory command.KeyStore: one random key per subject in a
// map. Forget deletes the map entry; the key bytes are overwritten first.
// The value NewKeys returns holds the default tenant's subjects; ForTenant
// returns another tenant's.
type Keys struct {
	mu     *sync.RWMutex
	keys   map[streamKey][]byte
	tenant string
}

// NewKeys returns an empty key store.
func NewKeys(opts *KeysOptions) *Keys {
	return &Keys{mu: new(sync.RWMutex), keys: make(map[streamKey][]byte)}
}

// ForTenant returns the keys of tenant's subjects, kept apart from every
// other tenant's: the same subject in two tenants has two keys. It fails
// with an error matching eventstore.ErrInvalidInput when tenant is not a
// valid tenant ID.
func (k *Keys) ForTenant(tenant string) (*Keys, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	return &Keys{mu: k.mu, keys: k.keys, tenant: tenant}, nil
}

// KeysForTenant implements command.KeyTenantScoper: ForTenant as a
// command.KeyStore, so that decorators can keep tenant views.
func (k *Keys) KeysForTenant(tenant string) (command.KeyStore, error) {
	v, err := k.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return v, nil
}

var _ command.KeyTenantScoper = (*Keys)(nil)

// Key implements command.KeyStore.
func (k *Keys) Key(ctx context.Context, subject string) ([]byte, error) {
	if err := command.ValidateSubject(subject); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.keys[streamKey{k.tenant, subject}]
	if !ok {
		key = make([]byte, command.KeySize)
		rand.Read(key) // never fails (crypto/rand)
		k.keys[streamKey{k.tenant, subject}] = key
	}
	return slices.Clone(key), nil
}

// Lookup implements command.KeyStore.
func (k *Keys) Lookup(ctx context.Context, subject string) ([]byte, bool, error) {
	if err := command.ValidateSubject(subject); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[streamKey{k.tenant, subject}]
	if !ok {
		return nil, false, nil
	}
	return slices.Clone(key), true, nil
}

// Forget implements command.KeyStore.
func (k *Keys) Forget(ctx context.Context, subject string) error {
	if err := command.ValidateSubject(subject); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.keys[streamKey{k.tenant, subject}])
	delete(k.keys, streamKey{k.tenant, subject})
	return nil
}
