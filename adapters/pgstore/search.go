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

// CreateCorrelationIndex builds the index EventsByCorrelation (and so the
// console's correlation search) reads, on metadata->>'correlation_id' of the
// events that have one. It is opt-in because every append then pays one
// more index insert (about 100 bytes of WAL and a few percent of the
// appends per second; docs/performance.md). It builds the index
// CONCURRENTLY, so appends go on while it runs, which PostgreSQL allows only
// outside a transaction: db must not be a pgx.Tx. It is idempotent, and
// rebuilds an index that an interrupted earlier call left invalid. Calls
// from several processes at once take turns (a session-level advisory lock
// when db is a *pgxpool.Pool or a *pgx.Conn), so they all succeed. Run it
// after Migrate; a nil opts means the default schema.
func CreateCorrelationIndex(ctx context.Context, db DB, opts *Options) error {
	if _, ok := db.(pgx.Tx); ok {
		return errors.New("pgstore: CreateCorrelationIndex: db is a transaction; CREATE INDEX CONCURRENTLY needs a pool or a connection")
	}
	schema, err := schemaOf(opts)
	if err != nil {
		return fmt.Errorf("pgstore: create correlation index: %w", err)
	}
	// Processes starting together each call this: builds of one index
	// running at once deadlock, and one may drop another's build in
	// progress, so the calls take turns under a session lock.
	return withSessionLock(ctx, db, "eventfold.correlation-index."+schema, func(db DB) error {
		return buildCorrelationIndex(ctx, db, schema)
	})
}

// buildCorrelationIndex is CreateCorrelationIndex under its lock.
func buildCorrelationIndex(ctx context.Context, db DB, schema string) error {
	index := pgx.Identifier{schema, correlationIndex}.Sanitize()
	var valid bool
	err := db.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, schema, correlationIndex).Scan(&valid)
	switch {
	case err == nil && valid:
		return nil
	case err == nil: // a concurrent build that did not finish
		if _, err := db.Exec(ctx, "DROP INDEX CONCURRENTLY "+index); err != nil {
			return fmt.Errorf("pgstore: create correlation index: drop the invalid one: %w", err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("pgstore: create correlation index: %w", err)
	}
	sql := "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + pgx.Identifier{correlationIndex}.Sanitize() + " ON " +
		pgx.Identifier{schema, "events"}.Sanitize() + " ((metadata->>'correlation_id')) WHERE metadata->>'correlation_id' IS NOT NULL"
	if _, err := db.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgstore: create correlation index: %w", err)
	}
	return nil
}

// correlationIndex is the name of the index CreateCorrelationIndex builds.
const correlationIndex = "events_correlation_id"

// EventsByCorrelation returns up to limit events whose metadata carries
// correlationID, from every stream, in global log order: the whole flow one
// request started (its commands' events, and the events of the commands a
// process manager sent in reaction). It compares metadata->>'correlation_id',
// which the index CreateCorrelationIndex builds serves; without it, it
// scans the events table, so it is meant for operators' tools rather than
// hot paths. An empty correlationID matches nothing. It returns the view's
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
	return s.query(ctx, limit, "events by correlation "+quote(correlationID), sql, args...)
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
	q := pgx.Identifier{s.opts.Schema}.Sanitize()
	sql := "SELECT stream_id, " + q + ".stream_version(tenant_id, stream_id) FROM " + q +
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
