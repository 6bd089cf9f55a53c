package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

var _ command.SnapshotStore = (*Snapshots)(nil)

// SnapshotsOptions configures Snapshots. A nil *SnapshotsOptions means all
// defaults; there are none to set yet.
type SnapshotsOptions struct{}

// Snapshots is an in-memory command.SnapshotStore that keeps the latest
// snapshot of each stream. The value NewSnapshots returns holds the default
// tenant's snapshots; ForTenant returns another tenant's.
type Snapshots struct {
	mu     *sync.RWMutex
	snaps  map[streamKey]command.Snapshot
	tenant string
}

// NewSnapshots returns an empty snapshot store.
func NewSnapshots(opts *SnapshotsOptions) *Snapshots {
	return &Snapshots{mu: new(sync.RWMutex), snaps: make(map[streamKey]command.Snapshot)}
}

// ForTenant returns the snapshots of tenant's streams, kept apart from every
// other tenant's. It fails with an error matching
// eventstore.ErrInvalidInput when tenant is not a valid tenant ID.
func (s *Snapshots) ForTenant(tenant string) (*Snapshots, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	return &Snapshots{mu: s.mu, snaps: s.snaps, tenant: tenant}, nil
}

// SnapshotsForTenant implements command.SnapshotTenantScoper: ForTenant as
// a command.SnapshotStore, so that decorators can keep tenant views.
func (s *Snapshots) SnapshotsForTenant(tenant string) (command.SnapshotStore, error) {
	v, err := s.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return v, nil
}

var _ command.SnapshotTenantScoper = (*Snapshots)(nil)

// Load implements command.SnapshotStore.
func (s *Snapshots) Load(ctx context.Context, streamID string) (command.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return command.Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap, ok := s.snaps[streamKey{s.tenant, streamID}]
	if !ok {
		return command.Snapshot{}, command.ErrSnapshotNotFound
	}
	snap.State = slices.Clone(snap.State)
	return snap, nil
}

// Save implements command.SnapshotStore.
func (s *Snapshots) Save(ctx context.Context, snap command.Snapshot) error {
	if err := command.ValidateSnapshot(snap); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	snap.State = slices.Clone(snap.State)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.snaps[streamKey{s.tenant, snap.StreamID}]; ok && old.Version > snap.Version {
		return nil
	}
	s.snaps[streamKey{s.tenant, snap.StreamID}] = snap
	return nil
}
