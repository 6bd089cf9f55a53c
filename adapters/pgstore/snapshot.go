package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

var _ command.SnapshotStore = (*Snapshots)(nil)

// Snapshots is a command.SnapshotStore in PostgreSQL (table snapshots): one
// row per stream holding its latest snapshot. Each call is one short
// autocommit statement. The Snapshots NewSnapshots returns hold the default
// tenant's streams; ForTenant returns another tenant's.
type Snapshots struct {
	err     error // an invalid Options.Schema, returned by every call
	db      scoped
	loadSQL string
	saveSQL string
}

// NewSnapshots returns Snapshots in the schema named by opts.Schema
// (default "eventfold"). Migrate must have run. It never closes db. With
// opts.RowLevelSecurity on, db must be able to send batches (see Options).
//
// With an invalid schema name (see ValidateSchema), every call fails with
// that error.
func NewSnapshots(db DB, opts *Options) *Snapshots {
	schema, err := schemaOf(opts)
	rls := opts != nil && opts.RowLevelSecurity
	q := pgx.Identifier{schema}.Sanitize()
	return &Snapshots{
		err:     err,
		db:      scoped{db: db, set: rls},
		loadSQL: "SELECT stream_version, schema_version, state FROM " + q + ".snapshots WHERE tenant_id = $2 AND stream_id = $1",
		// Never replace a snapshot with an older one, whatever order
		// concurrent writers save in.
		saveSQL: "INSERT INTO " + q + ".snapshots AS s (stream_id, stream_version, schema_version, state, tenant_id) VALUES ($1, $2, $3, $4, $5)" +
			" ON CONFLICT (tenant_id, stream_id) DO UPDATE SET stream_version = excluded.stream_version," +
			" schema_version = excluded.schema_version, state = excluded.state, saved_at = now()" +
			" WHERE s.stream_version <= excluded.stream_version",
	}
}

// ForTenant returns the snapshots of tenant's streams, kept apart from every
// other tenant's. It fails with an error matching
// eventstore.ErrInvalidInput when tenant is not a valid tenant ID.
func (s *Snapshots) ForTenant(tenant string) (*Snapshots, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	t := *s
	t.db.tenant = tenant
	return &t, nil
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
	if s.err != nil {
		return command.Snapshot{}, s.err
	}
	snap := command.Snapshot{StreamID: streamID}
	err := s.db.QueryRow(ctx, s.loadSQL, streamID, s.db.tenant).Scan(&snap.Version, &snap.SchemaVersion, &snap.State)
	if errors.Is(err, pgx.ErrNoRows) {
		return command.Snapshot{}, command.ErrSnapshotNotFound
	}
	if err != nil {
		return command.Snapshot{}, fmt.Errorf("pgstore: load snapshot of %q: %w", streamID, err)
	}
	return snap, nil
}

// Save implements command.SnapshotStore.
func (s *Snapshots) Save(ctx context.Context, snap command.Snapshot) error {
	if s.err != nil {
		return s.err
	}
	if err := command.ValidateSnapshot(snap); err != nil {
		return err
	}
	state := snap.State
	if state == nil {
		state = []byte{}
	}
	if _, err := s.db.Exec(ctx, s.saveSQL, snap.StreamID, snap.Version, snap.SchemaVersion, state, s.db.tenant); err != nil {
		return fmt.Errorf("pgstore: save snapshot of %q: %w", snap.StreamID, err)
	}
	return nil
}

// Snapshots returns the snapshot store beside s: the same database, schema
// and options, confined to s's tenant (the default tenant's for the
// AllTenants view), so that a Handler over s can take its snapshots with
// command.Options.Snapshots without naming the schema again.
func (s *Store) Snapshots() *Snapshots {
	snaps := NewSnapshots(s.raw, &s.opts)
	if !s.all {
		snaps.db.tenant = s.tenant
	}
	return snaps
}
