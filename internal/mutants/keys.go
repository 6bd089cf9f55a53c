package mutants

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

var keyBugs = []bug{
	{name: "tenant-ignored", breaks: "ForTenant returns the default tenant's keys"},
	{name: "lookup-ignores-tenant", breaks: "Lookup reads the default tenant's key"},
	{name: "forget-ignores-tenant", breaks: "Forget deletes the default tenant's key"},
	{name: "return-internal", breaks: "Key returns the stored key slice"},
	{name: "forget-keeps", breaks: "Forget keeps the key"},
	{name: "fresh-each-time", breaks: "Key makes a new key on every call"},
	{name: "racy-first-use", breaks: "concurrent first calls of Key each make a key"},
	{name: "lookup-creates", breaks: "Lookup makes a key for a subject without one"},
	{name: "hidden-tenants", breaks: "has tenant views the suite is not told about", undeclared: "Tenants"},
}

// Keys is a copy of memstore's Keys with one bug switched on.
type Keys struct {
	bug    string
	mu     *sync.RWMutex
	keys   map[streamKey][]byte
	tenant string
}

func newKeys(name string) *Keys {
	return &Keys{bug: strings.TrimPrefix(name, "keys/"), mu: new(sync.RWMutex), keys: make(map[streamKey][]byte)}
}

// ForTenant returns the keys of tenant's subjects.
func (k *Keys) ForTenant(tenant string) (*Keys, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	if k.bug == "tenant-ignored" {
		tenant = ""
	}
	return &Keys{bug: k.bug, mu: k.mu, keys: k.keys, tenant: tenant}, nil
}

// KeysForTenant implements command.KeyTenantScoper.
func (k *Keys) KeysForTenant(tenant string) (command.KeyStore, error) {
	v, err := k.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Key implements command.KeyStore.
func (k *Keys) Key(ctx context.Context, subject string) ([]byte, error) {
	if err := command.ValidateSubject(subject); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k.bug == "racy-first-use" {
		if key, ok, _ := k.Lookup(ctx, subject); ok {
			return key, nil
		}
		time.Sleep(time.Millisecond)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	sk := streamKey{k.tenant, subject}
	key, ok := k.keys[sk]
	if !ok || k.bug == "fresh-each-time" || k.bug == "racy-first-use" {
		key = make([]byte, command.KeySize)
		rand.Read(key) // never fails (crypto/rand)
		k.keys[sk] = key
	}
	if k.bug == "return-internal" {
		return key, nil
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
	if k.bug == "lookup-creates" {
		key, err := k.Key(ctx, subject)
		return key, err == nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	tenant := k.tenant
	if k.bug == "lookup-ignores-tenant" {
		tenant = ""
	}
	key, ok := k.keys[streamKey{tenant, subject}]
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
	if k.bug == "forget-keeps" {
		return nil
	}
	tenant := k.tenant
	if k.bug == "forget-ignores-tenant" {
		tenant = ""
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.keys[streamKey{tenant, subject}])
	delete(k.keys, streamKey{tenant, subject})
	return nil
}
