package pgstore

import (
	"context"
	"errors"
	"fmt"

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
)

func deletedError(op, streamID string) error {
	return fmt.Errorf("pgstore: %s stream %s: %w", op, quote(streamID), eventstore.ErrStreamDeleted)
}

// streamStateSQL tells, for a ReadStream that found no readable events,
// whether the stream exists with readable events beyond the range asked
// for ($1 the stream, $2 the tenant), and whether it is tombstoned.
func streamStateSQL(q string) string {
	return "SELECT coalesce(l.tombstoned, false), EXISTS (SELECT FROM " + q + ".events e" +
		" WHERE e.tenant_id = $2 AND e.stream_id = $1 AND e.version >= coalesce(l.truncate_before, 1))" +
		" FROM " + q + ".streams s LEFT JOIN " + q + ".stream_lifecycle l ON l.tenant_id = s.tenant_id AND l.stream_id = s.stream_id" +
		" WHERE s.tenant_id = $2 AND s.stream_id = $1"
}

// streamState returns what a ReadStream that found no events reports: nil
// for a stream with readable events elsewhere, ErrStreamNotFound, or an
// error matching ErrStreamDeleted.
func (s *Store) streamState(ctx context.Context, streamID string) error {
	var tombstoned, readable bool
	err := s.db.QueryRow(ctx, s.streamSQL, streamID, s.tenant).Scan(&tombstoned, &readable)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return eventstore.ErrStreamNotFound
	case err != nil:
		return s.backendError("read stream "+quote(streamID), err)
	case tombstoned:
		return deletedError("read", streamID)
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
