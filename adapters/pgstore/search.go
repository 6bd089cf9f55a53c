package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/eventstore"
)

// EventsByCorrelation returns up to limit events whose metadata carries
// correlationID, from every stream, in global log order: the whole flow one
// request started (its commands' events, and the events of the commands a
// process manager sent in reaction). It compares metadata->>'correlation_id',
// which an expression index on that expression serves; without one it scans
// the events table, so it is meant for operators' tools rather than hot
// paths. An empty correlationID matches nothing. It returns the view's
// tenant's events; on the AllTenants view, every tenant's.
func (s *Store) EventsByCorrelation(ctx context.Context, correlationID string, limit int) ([]eventstore.Record, error) {
	if limit <= 0 {
		return nil, errors.New("pgstore: EventsByCorrelation: limit must be positive")
	}
	if correlationID == "" {
		return nil, nil
	}
	if !utf8.ValidString(correlationID) || strings.IndexByte(correlationID, 0) >= 0 {
		// PostgreSQL's text would refuse it with a less helpful error.
		return nil, &eventstore.InvalidInputError{Field: "correlation id", Reason: "must be valid UTF-8 without NUL bytes"}
	}
	args := []any{correlationID, limit}
	tenant := ""
	if !s.all {
		tenant = " AND tenant_id = $3"
		args = append(args, s.tenant)
	}
	sql := "SELECT " + recordColumns + " FROM " + pgx.Identifier{s.opts.Schema}.Sanitize() +
		".events WHERE metadata->>'correlation_id' = $1" + tenant + " ORDER BY transaction_id, global_position LIMIT $2"
	return s.query(ctx, "events by correlation "+quote(correlationID), sql, args...)
}

// ListStreamsWithPrefix is ListStreams restricted to the streams whose IDs
// start with prefix ("" for all). It walks the streams table in key order
// and filters, so a rare prefix costs a longer scan; like ListStreams it is
// meant for operators' tools. It lists the view's tenant's streams; on the
// AllTenants view it fails as ListStreams does.
func (s *Store) ListStreamsWithPrefix(ctx context.Context, prefix, after string, limit int) ([]StreamInfo, error) {
	if prefix == "" || s.all {
		return s.ListStreams(ctx, after, limit)
	}
	if limit <= 0 {
		return nil, errors.New("pgstore: ListStreamsWithPrefix: limit must be positive")
	}
	if !utf8.ValidString(prefix) || strings.IndexByte(prefix, 0) >= 0 {
		return nil, &eventstore.InvalidInputError{Field: "prefix", Reason: "must be valid UTF-8 without NUL bytes"}
	}
	sql := "SELECT stream_id, version FROM " + pgx.Identifier{s.opts.Schema}.Sanitize() +
		".streams WHERE tenant_id = $4 AND stream_id > $1 AND starts_with(stream_id, $2) ORDER BY stream_id LIMIT $3"
	rows, err := s.db.Query(ctx, sql, after, prefix, limit, s.tenant)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list streams: %w", err)
	}
	infos, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StreamInfo, error) {
		var i StreamInfo
		err := row.Scan(&i.ID, &i.Version)
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: list streams: %w", err)
	}
	return infos, nil
}
