package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/eventfold/eventfold/eventstore"
)

var _ eventstore.StreamLifecycle = (*Store)(nil)

// tombstoneType is the type of a hard-deleted stream's last event, which
// the append fast path must not append after.
const tombstoneType = eventstore.StreamTombstoneType

// erasedType is the type of an event a hard delete erased: its row keeps
// its version taken (see functions/delete_stream.sql) and ReadAll leaves it
// out.
const erasedType = "$stream.erased"

// Outcomes of append_events, delete_stream and truncate_stream beyond
// those appendResult knows (see their files in schema/functions).
const (
	outcomeTombstoned  = 4
	outcomeNotFound    = 5
	outcomeBeyondEnd   = 6
	outcomeNothingToDo = 7
	outcomeArchived    = 8
)

func deletedError(op, streamID string) error {
	return fmt.Errorf("pgstore: %s stream %s: %w", op, quote(streamID), eventstore.ErrStreamDeleted)
}

// readableSQL is the condition ReadStream adds for the stream lifecycle
// ($1 the stream, $4 the tenant; see schema/015_stream_lifecycle.sql): a
// version from the stream's truncate_before, and its max_count last, on,
// recorded within max_age, and not erased. Each subquery runs once per
// read; a stream without a row in stream_lifecycle pays a probe of its
// primary key.
func readableSQL(q string) string {
	life := q + ".stream_lifecycle l WHERE l.tenant_id = $4 AND l.stream_id = $1"
	return " AND version >= coalesce((SELECT CASE WHEN l.max_count IS NULL THEN l.truncate_before" +
		" ELSE greatest(l.truncate_before, (SELECT max(m.version) FROM " + q + ".events m" +
		" WHERE m.tenant_id = $4 AND m.stream_id = $1) - l.max_count + 1) END FROM " + life + "), 1)" +
		" AND recorded_at >= coalesce((SELECT now() - l.max_age FROM " + life + "), '-infinity'::timestamptz)" +
		" AND type <> '" + erasedType + "'"
}

// streamStateSQL tells, for a ReadStream that found no readable events,
// whether the stream exists with readable events beyond the range asked
// for ($1 the stream, $2 the tenant), and whether it is tombstoned or
// archived.
func streamStateSQL(q string) string {
	return "SELECT coalesce(l.tombstoned, false), coalesce(l.archived, false), EXISTS (SELECT FROM " + q + ".events e" +
		" WHERE e.tenant_id = $2 AND e.stream_id = $1 AND e.version >= coalesce(l.truncate_before, 1))" +
		" FROM " + q + ".streams s LEFT JOIN " + q + ".stream_lifecycle l ON l.tenant_id = s.tenant_id AND l.stream_id = s.stream_id" +
		" WHERE s.tenant_id = $2 AND s.stream_id = $1"
}

// streamState returns what a ReadStream that found no events reports: nil
// for a stream with readable events elsewhere, ErrStreamNotFound, or an
// error matching ErrStreamDeleted or ErrStreamArchived.
func (s *Store) streamState(ctx context.Context, streamID string) error {
	var tombstoned, archived, readable bool
	err := s.db.QueryRow(ctx, s.streamSQL, streamID, s.tenant).Scan(&tombstoned, &archived, &readable)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return eventstore.ErrStreamNotFound
	case err != nil:
		return s.backendError("read stream "+quote(streamID), err)
	case tombstoned:
		return deletedError("read", streamID)
	case archived:
		return archivedError("read", streamID)
	case !readable:
		return eventstore.ErrStreamNotFound
	}
	return nil
}

// DeleteStream implements eventstore.StreamLifecycle in one round trip
// (functions/delete_stream.sql). A hard delete removes the stream's rows
// from the events table at once; a soft delete leaves them in ReadAll. Both
// drop the stream's snapshot.
func (s *Store) DeleteStream(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, mode eventstore.DeleteMode) (eventstore.Position, error) {
	if err := eventstore.ValidateDelete(streamID, expected, mode); err != nil {
		return eventstore.Position{}, err
	}
	if s.all {
		return eventstore.Position{}, errAllTenants
	}
	sql := "SELECT outcome, stream_version, transaction_id, global_position FROM " +
		pgx.Identifier{s.opts.Schema}.Sanitize() + ".delete_stream($1, $2, $3, $4, $5)"
	op := "delete " + mode.String() + " stream " + quote(streamID)
	id := parseUUID(eventstore.NewEventID())
	row, err := s.lifecycleCall(ctx, op, sql, s.tenant, streamID, int64(expected), mode == eventstore.HardDelete, id)
	if err != nil {
		return eventstore.Position{}, err
	}
	switch row.outcome {
	case 0:
		return row.position()
	case 1:
		return eventstore.Position{}, &eventstore.ConcurrencyError{StreamID: streamID, Expected: expected, Actual: row.version}
	case outcomeTombstoned:
		return eventstore.Position{}, deletedError("delete", streamID)
	case outcomeNotFound:
		return eventstore.Position{}, eventstore.ErrStreamNotFound
	}
	return eventstore.Position{}, fmt.Errorf("pgstore: %s: unknown outcome %d", op, row.outcome)
}

// TruncateStream implements eventstore.StreamLifecycle in one round trip
// (functions/truncate_stream.sql). The truncated events stay in ReadAll.
func (s *Store) TruncateStream(ctx context.Context, streamID string, before int64) (eventstore.Position, error) {
	if err := eventstore.ValidateTruncate(streamID, before); err != nil {
		return eventstore.Position{}, err
	}
	if s.all {
		return eventstore.Position{}, errAllTenants
	}
	sql := "SELECT outcome, stream_version, transaction_id, global_position FROM " +
		pgx.Identifier{s.opts.Schema}.Sanitize() + ".truncate_stream($1, $2, $3, $4)"
	op := "truncate stream " + quote(streamID)
	row, err := s.lifecycleCall(ctx, op, sql, s.tenant, streamID, before, parseUUID(eventstore.NewEventID()))
	if err != nil {
		return eventstore.Position{}, err
	}
	switch row.outcome {
	case 0:
		return row.position()
	case outcomeTombstoned:
		return eventstore.Position{}, deletedError("truncate", streamID)
	case outcomeNotFound:
		return eventstore.Position{}, eventstore.ErrStreamNotFound
	case outcomeBeyondEnd:
		return eventstore.Position{}, &eventstore.InvalidInputError{Field: "before",
			Reason: fmt.Sprintf("%d is beyond the stream's version %d", before, row.version)}
	case outcomeNothingToDo:
		return eventstore.Position{}, nil
	}
	return eventstore.Position{}, fmt.Errorf("pgstore: %s: unknown outcome %d", op, row.outcome)
}

// SetStreamMetadata implements eventstore.StreamLifecycle in one round
// trip (functions/set_stream_metadata.sql). MaxAge is kept to the
// microsecond.
func (s *Store) SetStreamMetadata(ctx context.Context, streamID string, meta eventstore.StreamMetadata) (eventstore.Position, error) {
	if err := eventstore.ValidateLifecycleStreamID(streamID); err != nil {
		return eventstore.Position{}, err
	}
	if err := meta.Validate(); err != nil {
		return eventstore.Position{}, err
	}
	if s.all {
		return eventstore.Position{}, errAllTenants
	}
	sql := "SELECT outcome, stream_version, transaction_id, global_position FROM " +
		pgx.Identifier{s.opts.Schema}.Sanitize() + ".set_stream_metadata($1, $2, $3, $4, $5)"
	op := "set metadata of stream " + quote(streamID)
	row, err := s.lifecycleCall(ctx, op, sql, s.tenant, streamID, int64(meta.MaxAge), meta.MaxCount, parseUUID(eventstore.NewEventID()))
	if err != nil {
		return eventstore.Position{}, err
	}
	switch row.outcome {
	case 0:
		return row.position()
	case outcomeTombstoned:
		return eventstore.Position{}, deletedError("set metadata of", streamID)
	}
	return eventstore.Position{}, fmt.Errorf("pgstore: %s: unknown outcome %d", op, row.outcome)
}

// ReadStreamMetadata implements eventstore.StreamLifecycle.
func (s *Store) ReadStreamMetadata(ctx context.Context, streamID string) (eventstore.StreamMetadata, error) {
	if err := eventstore.ValidateStreamID(streamID); err != nil {
		return eventstore.StreamMetadata{}, err
	}
	if s.all {
		return eventstore.StreamMetadata{}, errAllTenants
	}
	var (
		tombstoned bool
		ageNS      *int64
		count      *int64
	)
	err := s.db.QueryRow(ctx, "SELECT tombstoned, (extract(epoch FROM max_age) * 1000000000)::bigint, max_count FROM "+
		pgx.Identifier{s.opts.Schema}.Sanitize()+".stream_lifecycle WHERE tenant_id = $1 AND stream_id = $2", s.tenant, streamID).
		Scan(&tombstoned, &ageNS, &count)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return eventstore.StreamMetadata{}, nil
	case err != nil:
		return eventstore.StreamMetadata{}, s.backendError("read metadata of stream "+quote(streamID), err)
	case tombstoned:
		return eventstore.StreamMetadata{}, deletedError("read metadata of", streamID)
	}
	var m eventstore.StreamMetadata
	if ageNS != nil {
		m.MaxAge = time.Duration(*ageNS)
	}
	if count != nil {
		m.MaxCount = *count
	}
	return m, nil
}

var _ eventstore.Reclaimer = (*Store)(nil)

// ReclaimStreams implements eventstore.Reclaimer in one statement. It
// erases the events in place, as a hard delete does: each keeps a row
// without data, type or metadata so that its version stays taken (see
// functions/delete_stream.sql), and ReadAll and ReadStream leave it out.
// Run it when the store is quiet, or through an eventstore.ReclaimJob: it
// updates every reclaimed row in one transaction.
func (s *Store) ReclaimStreams(ctx context.Context) (int64, error) {
	q := pgx.Identifier{s.opts.Schema}.Sanitize()
	tenant, args := "l.tenant_id = $1 AND ", []any{s.tenant}
	if s.all {
		tenant, args = "", nil
	}
	sql := "WITH hidden AS (SELECT e.tenant_id, e.stream_id, e.version FROM " + q + ".stream_lifecycle l" +
		" CROSS JOIN LATERAL (SELECT max(m.version) AS last FROM " + q + ".events m WHERE m.tenant_id = l.tenant_id AND m.stream_id = l.stream_id) v" +
		" JOIN " + q + ".events e ON e.tenant_id = l.tenant_id AND e.stream_id = l.stream_id AND e.version < v.last" +
		" WHERE " + tenant + "NOT l.tombstoned AND e.type <> '" + erasedType + "'" +
		" AND (e.version < l.truncate_before OR e.version <= v.last - l.max_count OR e.recorded_at < now() - l.max_age))" +
		" UPDATE " + q + ".events e SET type = '" + erasedType + "', content_type = 'application/octet-stream', data = '\\x'::bytea, metadata = NULL" +
		" FROM hidden h WHERE e.tenant_id = h.tenant_id AND e.stream_id = h.stream_id AND e.version = h.version"
	tag, err := s.db.Exec(ctx, sql, args...)
	if err != nil {
		return 0, s.backendError("reclaim streams", err)
	}
	return tag.RowsAffected(), nil
}

// lifecycleRow is one row of delete_stream or truncate_stream.
type lifecycleRow struct {
	outcome int
	version int64
	txid    *uint64
	pos     *int64
}

func (r lifecycleRow) position() (eventstore.Position, error) {
	if r.txid == nil || r.pos == nil {
		return eventstore.Position{}, errors.New("pgstore: stream lifecycle: no position returned")
	}
	return eventstore.Position{Commit: *r.txid, Sequence: uint64(*r.pos)}, nil
}

// lifecycleCall runs a lifecycle function, retrying its serialization
// failures (the stream order, or an append that took the version first)
// in a new transaction as appendPrepared does, and wakes tailers after a
// change.
func (s *Store) lifecycleCall(ctx context.Context, op, sql string, args ...any) (lifecycleRow, error) {
	for attempt := 0; ; attempt++ {
		var row lifecycleRow
		err := s.db.QueryRow(ctx, sql, args...).Scan(&row.outcome, &row.version, &row.txid, &row.pos)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "40001" && !s.inTx && attempt < 20 {
			if err := sleepBriefly(ctx, attempt); err != nil {
				return row, err
			}
			continue
		}
		if err != nil {
			return row, s.backendError(op, err)
		}
		if row.outcome == 0 {
			s.signals.notify(s.tenant)
		}
		return row, nil
	}
}

var _ eventstore.Reclaimer = (*AllTenantsReader)(nil)

// ReclaimStreams implements eventstore.Reclaimer for every tenant's
// streams, as Store.ReclaimStreams does for one tenant's.
func (r *AllTenantsReader) ReclaimStreams(ctx context.Context) (int64, error) {
	return r.s.ReclaimStreams(ctx)
}
