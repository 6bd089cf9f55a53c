package appendbench

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/eventstore"
)

// The variants below are not baselines: they take eventfold's append apart,
// to find where its cost over the raw INSERT goes. They write into
// eventfold's own tables and only run with Options.Variants.

// eventsOnlyTarget inserts the events straight into eventfold's events table
// (its three unique indexes, bytea data, xid8 default), with no streams row
// and no function: the cost of the table's shape alone.
type eventsOnlyTarget struct {
	ef  *eventfoldTarget
	sql string
}

func newEventsOnly(ef *eventfoldTarget) *eventsOnlyTarget {
	var values []string
	for i := range ef.events {
		p := 7 * i
		values = append(values, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d)", p+1, p+2, p+3, p+4, p+5, p+6, p+7))
	}
	sql := "INSERT INTO " + pgx.Identifier{ef.schema, "events"}.Sanitize() +
		" (stream_id, version, event_id, type, content_type, data, metadata) VALUES " + strings.Join(values, ", ") +
		" RETURNING transaction_id, global_position"
	return &eventsOnlyTarget{ef: ef, sql: sql}
}

func (t *eventsOnlyTarget) reset(ctx context.Context) error { return t.ef.reset(ctx) }

func (t *eventsOnlyTarget) writer() (func(context.Context) error, error) {
	stream := "order-" + eventstore.NewEventID()
	n := t.ef.events
	args := make([]any, 7*n)
	var version int64
	return func(ctx context.Context) error {
		for i := range n {
			args[7*i] = stream
			args[7*i+1] = version + int64(i) + 1
			args[7*i+2] = eventstore.NewEventID()
			args[7*i+3] = eventType
			args[7*i+4] = eventstore.ContentTypeJSON
			args[7*i+5] = payload
			args[7*i+6] = metaJSON
		}
		if err := queryN(ctx, t.ef.pool, n, t.sql, args...); err != nil {
			return fmt.Errorf("events-only insert: %w", err)
		}
		version += int64(n)
		return nil
	}, nil
}

// statementTarget is eventfold's append for an exact expected version as
// one plain SQL statement instead of the plpgsql function: the version check
// on the streams row and the insert in one writable CTE, with no event-ID
// probe first (a replay would surface as a conflict or a unique violation,
// and only then be looked up).
type statementTarget struct {
	ef  *eventfoldTarget
	sql string
}

func newStatement(ef *eventfoldTarget) *statementTarget {
	q := func(t string) string { return pgx.Identifier{ef.schema, t}.Sanitize() }
	sql := `WITH s AS (
	UPDATE ` + q("streams") + ` SET version = version + cardinality($3::uuid[])
	WHERE stream_id = $1 AND version = $2 RETURNING version)
INSERT INTO ` + q("events") + ` (stream_id, version, event_id, type, content_type, data, metadata)
SELECT $1, s.version - cardinality($3::uuid[]) + u.i, u.id, u.t, u.ct, u.d, u.m
FROM s, unnest($3::uuid[], $4::text[], $5::text[], $6::bytea[], $7::jsonb[]) WITH ORDINALITY AS u(id, t, ct, d, m, i)
RETURNING transaction_id, global_position`
	return &statementTarget{ef: ef, sql: sql}
}

func (t *statementTarget) reset(ctx context.Context) error { return t.ef.reset(ctx) }

func (t *statementTarget) writer() (func(context.Context) error, error) {
	stream := "order-" + eventstore.NewEventID()
	n := t.ef.events
	ids := make([]string, n)
	types := make([]string, n)
	cts := make([]string, n)
	data := make([][]byte, n)
	metas := make([][]byte, n)
	for i := range n {
		types[i], cts[i], data[i], metas[i] = eventType, eventstore.ContentTypeJSON, payload, metaJSON
	}
	var version int64
	return func(ctx context.Context) error {
		if version == 0 { // the stream row comes with the first append
			res, err := t.ef.store.Append(ctx, stream, eventstore.NoStream, []eventstore.Event{{Type: eventType, Data: payload, Metadata: meta}})
			if err != nil {
				return err
			}
			version = res.StreamVersion
		}
		for i := range ids {
			ids[i] = eventstore.NewEventID()
		}
		if err := queryN(ctx, t.ef.pool, n, t.sql, stream, version, ids, types, cts, data, metas); err != nil {
			return fmt.Errorf("statement append: %w", err)
		}
		version += int64(n)
		return nil
	}, nil
}

// queryN runs a statement that must return n rows.
func queryN(ctx context.Context, pool *pgxpool.Pool, n int, sql string, args ...any) error {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		got++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%d rows returned, want %d", got, n)
	}
	return nil
}

// functionTarget calls eventfold's own append_events function, as pgstore
// does, but with the event IDs as binary-encodable UUIDs and the metadata
// marshalled once: same server work as pgstore, less client work.
type functionTarget struct {
	ef  *eventfoldTarget
	sql string
}

func newFunction(ef *eventfoldTarget) *functionTarget {
	return &functionTarget{ef: ef, sql: "SELECT outcome, stream_version, transaction_id, global_position FROM " +
		pgx.Identifier{ef.schema}.Sanitize() + ".append_events($1, $2, $3, $4, $5, $6, $7, $8, $9)"}
}

func (t *functionTarget) reset(ctx context.Context) error { return t.ef.reset(ctx) }

func (t *functionTarget) writer() (func(context.Context) error, error) {
	stream := "order-" + eventstore.NewEventID()
	n := t.ef.events
	ids := make([]pgtype.UUID, n)
	types := make([]string, n)
	cts := make([]string, n)
	data := make([][]byte, n)
	metas := make([][]byte, n)
	for i := range n {
		types[i], cts[i], data[i], metas[i] = eventType, eventstore.ContentTypeJSON, payload, metaJSON
	}
	var version int64
	return func(ctx context.Context) error {
		for i := range ids {
			if err := ids[i].Scan(eventstore.NewEventID()); err != nil {
				return err
			}
		}
		var (
			outcome  int
			v        int64
			txid     uint64
			position int64
		)
		err := t.ef.pool.QueryRow(ctx, t.sql, stream, version, nil, false, ids, types, cts, data, metas).Scan(&outcome, &v, &txid, &position)
		if err != nil {
			return fmt.Errorf("append_events: %w", err)
		}
		if outcome != 0 {
			return fmt.Errorf("append_events: outcome %d", outcome)
		}
		version = v
		return nil
	}, nil
}
