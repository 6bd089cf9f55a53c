package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrTenantFenced is returned by a write to a tenant that is moving to
// another shard, or has moved: the shard it was sent to no longer accepts
// the tenant's writes. Nothing was written. Look the tenant's shard up
// again and retry; while the move is under way the answer is the same
// shard and the write fails again, until the move completes.
var ErrTenantFenced = errors.New("eventstore: the tenant's writes are fenced on this shard: it is moving or has moved to another; look its shard up again and retry")

// ShardMap tells which shard holds each tenant's streams. The operator
// controls it; a tenant move changes it.
type ShardMap interface {
	// ShardOf returns the name of tenant's shard.
	ShardOf(ctx context.Context, tenant string) (string, error)
}

// ShardAssigner is a ShardMap the operator (or a tenant move) can change.
type ShardAssigner interface {
	ShardMap
	// Assign sends tenant to shard from now on.
	Assign(ctx context.Context, tenant, shard string) error
}

// StaticShardMap is a ShardMap held in memory: a tenant → shard table and
// a shard for every tenant the table does not name. It is safe for
// concurrent use.
type StaticShardMap struct {
	mu       sync.RWMutex
	fallback string
	tenants  map[string]string
}

// NewStaticShardMap returns a map that sends the tenants of assign to
// their shards and every other tenant (and the default tenant) to
// fallback. It copies assign.
func NewStaticShardMap(fallback string, assign map[string]string) *StaticShardMap {
	m := &StaticShardMap{fallback: fallback, tenants: make(map[string]string, len(assign))}
	for t, s := range assign {
		m.tenants[t] = s
	}
	return m
}

// ShardOf implements ShardMap.
func (m *StaticShardMap) ShardOf(_ context.Context, tenant string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if s, ok := m.tenants[tenant]; ok {
		return s, nil
	}
	return m.fallback, nil
}

// Assign implements ShardAssigner.
func (m *StaticShardMap) Assign(_ context.Context, tenant, shard string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenants[tenant] = shard
	return nil
}

// Shards routes each tenant to the store of its shard: several stores,
// each with its own log, and a ShardMap naming the one that holds each
// tenant. A tenant lives on exactly one shard, so every call on a tenant's
// view (appends, stream reads, its ReadAll and Head) is answered by that
// shard alone.
//
// Shards is not a Store: positions belong to one shard's log, and no log
// orders the events of two shards, so there is no ReadAll across shards
// and no reader of every tenant. A relay or an admin tool works on one
// shard at a time ([Shards.Shard], then [AllTenants]).
type Shards struct {
	stores map[string]Store
	m      ShardMap
}

// NewShards returns a router over stores, keyed by shard name, that asks m
// where each tenant lives. It fails with ErrInvalidInput when stores is
// empty or holds a nil store, and with one matching errors.ErrUnsupported
// when a store has no tenant views (TenantScoper).
func NewShards(stores map[string]Store, m ShardMap) (*Shards, error) {
	if len(stores) == 0 || m == nil {
		return nil, &InvalidInputError{Field: "shards", Reason: "needs at least one store and a shard map"}
	}
	s := &Shards{stores: make(map[string]Store, len(stores)), m: m}
	for name, st := range stores {
		if st == nil {
			return nil, &InvalidInputError{Field: "shards", Reason: fmt.Sprintf("shard %q has no store", name)}
		}
		if _, ok := As[TenantScoper](st); !ok {
			return nil, fmt.Errorf("eventstore: shard %q: %T has no tenant views: %w", name, st, errors.ErrUnsupported)
		}
		s.stores[name] = st
	}
	return s, nil
}

// Names returns the shards' names, sorted.
func (s *Shards) Names() []string {
	names := make([]string, 0, len(s.stores))
	for n := range s.stores {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Shard returns the store of the shard called name, or false.
func (s *Shards) Shard(name string) (Store, bool) {
	st, ok := s.stores[name]
	return st, ok
}

// ShardOf returns the name of tenant's shard, as the map says. It fails
// when the map names a shard the router does not have.
func (s *Shards) ShardOf(ctx context.Context, tenant string) (string, error) {
	name, err := s.m.ShardOf(ctx, tenant)
	if err != nil {
		return "", err
	}
	if _, ok := s.stores[name]; !ok {
		return "", fmt.Errorf("eventstore: the shard map sends tenant %q to shard %q, which is not one of %v", tenant, name, s.Names())
	}
	return name, nil
}

// ForTenant returns tenant's view on its shard ("" for the default
// tenant: the shard's own store). The view stays on that shard: after the
// tenant moves, its writes fail with ErrTenantFenced, and a new ForTenant
// returns the view on the new shard. Views are cheap; take one per
// request.
func (s *Shards) ForTenant(ctx context.Context, tenant string) (Store, error) {
	_, st, err := s.resolve(ctx, tenant)
	return st, err
}

// Append appends to tenant's stream on its shard. When the shard answers
// ErrTenantFenced it looks the shard up again and, if the tenant has moved
// meanwhile, appends there; a fenced write stores nothing, so the second
// try cannot store the events twice. While a move is under way the error
// is returned: retry later.
func (s *Shards) Append(ctx context.Context, tenant, streamID string, expected ExpectedVersion, events []Event) (AppendResult, error) {
	name, st, err := s.resolve(ctx, tenant)
	if err != nil {
		return AppendResult{}, err
	}
	res, err := st.Append(ctx, streamID, expected, events)
	if !errors.Is(err, ErrTenantFenced) {
		return res, err
	}
	again, st, lookupErr := s.resolve(ctx, tenant)
	if lookupErr != nil || again == name {
		return res, err
	}
	return st.Append(ctx, streamID, expected, events)
}

// resolve returns tenant's shard and its view there.
func (s *Shards) resolve(ctx context.Context, tenant string) (string, Store, error) {
	name, err := s.ShardOf(ctx, tenant)
	if err != nil {
		return "", nil, err
	}
	if tenant == "" {
		return name, s.stores[name], nil
	}
	st, err := ForTenant(s.stores[name], tenant)
	return name, st, err
}

var _ ShardAssigner = (*StaticShardMap)(nil)
