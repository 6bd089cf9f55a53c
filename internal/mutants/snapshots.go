package mutants

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

var snapshotBugs = []bug{
	{name: "tenant-ignored", breaks: "ForTenant returns the default tenant's snapshots"},
	{name: "load-ignores-tenant", breaks: "Load reads the default tenant's snapshot"},
	{name: "older-replaces", breaks: "an older snapshot replaces a newer one"},
	{name: "same-version-kept", breaks: "a snapshot of the stored version does not replace it"},
	{name: "retain-state", breaks: "Save keeps the caller's State slice"},
	{name: "return-internal", breaks: "Load returns the stored State slice"},
	{name: "no-validation", breaks: "Save stores invalid snapshots"},
	{name: "hidden-tenants", breaks: "has tenant views the suite is not told about", undeclared: "Tenants"},
}

// streamKey names a stream within its tenant.
type streamKey struct{ tenant, id string }

// Snapshots is a copy of memstore's Snapshots with one bug switched on.
type Snapshots struct {
	bug    string
	mu     *sync.RWMutex
	snaps  map[streamKey]command.Snapshot
	tenant string
}

func newSnapshots(name string) *Snapshots {
	return &Snapshots{bug: strings.TrimPrefix(name, "snapshots/"), mu: new(sync.RWMutex), snaps: make(map[streamKey]command.Snapshot)}
}

// ForTenant returns the snapshots of tenant's streams.
func (s *Snapshots) ForTenant(tenant string) (*Snapshots, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	if s.bug == "tenant-ignored" {
		tenant = ""
	}
	return &Snapshots{bug: s.bug, mu: s.mu, snaps: s.snaps, tenant: tenant}, nil
}

// SnapshotsForTenant implements command.SnapshotTenantScoper.
func (s *Snapshots) SnapshotsForTenant(tenant string) (command.SnapshotStore, error) {
	v, err := s.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Load implements command.SnapshotStore.
func (s *Snapshots) Load(ctx context.Context, streamID string) (command.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return command.Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	tenant := s.tenant
	if s.bug == "load-ignores-tenant" {
		tenant = ""
	}
	snap, ok := s.snaps[streamKey{tenant, streamID}]
	if !ok {
		return command.Snapshot{}, command.ErrSnapshotNotFound
	}
	if s.bug != "return-internal" {
		snap.State = slices.Clone(snap.State)
	}
	return snap, nil
}

// Save implements command.SnapshotStore.
func (s *Snapshots) Save(ctx context.Context, snap command.Snapshot) error {
	if err := command.ValidateSnapshot(snap); err != nil && s.bug != "no-validation" {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.bug != "retain-state" {
		snap.State = slices.Clone(snap.State)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.snaps[streamKey{s.tenant, snap.StreamID}]
	switch {
	case !ok || s.bug == "older-replaces":
	case s.bug == "same-version-kept" && old.Version >= snap.Version:
		return nil
	case old.Version > snap.Version:
		return nil
	}
	s.snaps[streamKey{s.tenant, snap.StreamID}] = snap
	return nil
}
