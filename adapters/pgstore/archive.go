package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/eventstore"
)

var _ eventstore.StreamArchiver = (*Store)(nil)

// archivedType is the type of an archived stream's last event, which the
// append fast path must not append after.
const archivedType = eventstore.StreamArchivedType

func archivedError(op, streamID string) error {
	return fmt.Errorf("pgstore: %s stream %s: %w", op, quote(streamID), eventstore.ErrStreamArchived)
}

// ArchiveStream implements eventstore.StreamArchiver in one round trip
// (functions/archive_stream.sql): the stream's events move to the
// events_archive table, and each row they leave in events keeps its
// version and event ID without its payload (schema/018_stream_archive.sql).
func (s *Store) ArchiveStream(ctx context.Context, streamID string, expected eventstore.ExpectedVersion) (eventstore.Position, error) {
	if err := eventstore.ValidateArchive(streamID, expected); err != nil {
		return eventstore.Position{}, err
	}
	if s.all {
		return eventstore.Position{}, errAllTenants
	}
	sql := "SELECT outcome, stream_version, transaction_id, global_position FROM " +
		pgx.Identifier{s.opts.Schema}.Sanitize() + ".archive_stream($1, $2, $3, $4)"
	op := "archive stream " + quote(streamID)
	row, err := s.lifecycleCall(ctx, op, sql, s.tenant, streamID, int64(expected), parseUUID(eventstore.NewEventID()))
	if err != nil {
		return eventstore.Position{}, err
	}
	switch row.outcome {
	case 0:
		return row.position()
	case 1:
		return eventstore.Position{}, &eventstore.ConcurrencyError{StreamID: streamID, Expected: expected, Actual: row.version}
	case outcomeTombstoned:
		return eventstore.Position{}, deletedError("archive", streamID)
	case outcomeNotFound:
		return eventstore.Position{}, eventstore.ErrStreamNotFound
	case outcomeArchived:
		return eventstore.Position{}, archivedError("archive", streamID)
	}
	return eventstore.Position{}, fmt.Errorf("pgstore: %s: unknown outcome %d", op, row.outcome)
}

// ReadArchivedStream implements eventstore.StreamArchiver: it reads the
// events_archive table. A hard delete between its two statements leaves
// it with no events.
func (s *Store) ReadArchivedStream(ctx context.Context, streamID string, from int64, limit int) ([]eventstore.Record, error) {
	if err := eventstore.ValidateReadArchived(streamID, limit); err != nil {
		return nil, err
	}
	if s.all {
		return nil, errAllTenants
	}
	q := pgx.Identifier{s.opts.Schema}.Sanitize()
	var tombstoned, archived bool
	err := s.db.QueryRow(ctx, "SELECT tombstoned, archived FROM "+q+".stream_lifecycle WHERE tenant_id = $1 AND stream_id = $2",
		s.tenant, streamID).Scan(&tombstoned, &archived)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, eventstore.ErrStreamNotFound
	case err != nil:
		return nil, s.backendError("read archive of stream "+quote(streamID), err)
	case tombstoned:
		return nil, deletedError("read archive of", streamID)
	case !archived:
		return nil, eventstore.ErrStreamNotFound
	}
	lim := int64(limit)
	if limit == 0 {
		lim = 1<<63 - 1
	}
	sql := "SELECT " + recordColumns + " FROM " + q + ".events_archive WHERE tenant_id = $1 AND stream_id = $2 AND version >= $3" +
		" ORDER BY version LIMIT $4"
	return s.query(ctx, int(min(lim, 64)), "read archive of stream "+quote(streamID), sql, s.tenant, streamID, from, lim)
}
