package memstore

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"

	"github.com/eventfold/eventfold/command"
)

var _ command.KeyStore = (*Keys)(nil)

// KeysOptions configures Keys. A nil *KeysOptions means all defaults; there
// are none to set yet.
type KeysOptions struct{}

// Keys is an in-memory command.KeyStore: one random key per subject in a
// map. Forget deletes the map entry; the key bytes are overwritten first.
type Keys struct {
	mu   sync.RWMutex
	keys map[string][]byte
}

// NewKeys returns an empty key store.
func NewKeys(opts *KeysOptions) *Keys {
	return &Keys{keys: make(map[string][]byte)}
}

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
	key, ok := k.keys[subject]
	if !ok {
		key = make([]byte, command.KeySize)
		rand.Read(key) // never fails (crypto/rand)
		k.keys[subject] = key
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
	key, ok := k.keys[subject]
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
	clear(k.keys[subject])
	delete(k.keys, subject)
	return nil
}
