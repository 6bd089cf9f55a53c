package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/eventfold/eventfold/command"
)

var _ command.SnapshotStore = (*Snapshots)(nil)

// SnapshotsOptions configures Snapshots. A nil *SnapshotsOptions means all
// defaults; there are none to set yet.
type SnapshotsOptions struct{}

// Snapshots is an in-memory command.SnapshotStore that keeps the latest
// snapshot of each stream.
type Snapshots struct {
	mu    sync.RWMutex
	snaps map[string]command.Snapshot
}

// NewSnapshots returns an empty snapshot store.
func NewSnapshots(opts *SnapshotsOptions) *Snapshots {
	return &Snapshots{snaps: make(map[string]command.Snapshot)}
}

// Load implements command.SnapshotStore.
func (s *Snapshots) Load(ctx context.Context, streamID string) (command.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return command.Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap, ok := s.snaps[streamID]
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
	if old, ok := s.snaps[snap.StreamID]; ok && old.Version > snap.Version {
		return nil
	}
	s.snaps[snap.StreamID] = snap
	return nil
}
