package appendbench

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/eventstore"
)

// The variants below are not baselines: they take eventfold's append apart,
// to find where its cost over the raw INSERT goes. They write into
// eventfold's own tables and only run with Options.Variants.

// eventsOnlyTarget inserts the events straight into eventfold's events table
// (its unique indexes, bytea data, xid8 default), or into a copy of it, with
// no version probe and no function: the cost of the table's shape alone.
type eventsOnlyTarget struct {
	ef    *eventfoldTarget
	table string
	sql   string
}

func newEventsOnly(ef *eventfoldTarget) *eventsOnlyTarget {
	return newEventsInto(ef, "events")
}

// newEventsWithCorrelationIndex inserts into a copy of the events table
// with the index pgstore.CreateCorrelationIndex adds, which measures what
// that opt-in index costs an append.
func newEventsWithCorrelationIndex(ctx context.Context, ef *eventfoldTarget) (*eventsOnlyTarget, error) {
	q := func(t string) string { return pgx.Identifier{ef.schema, t}.Sanitize() }
	for _, sql := range []string{
		"CREATE TABLE " + q("events_correlation") + " (LIKE " + q("events") + " INCLUDING ALL)",
		"CREATE INDEX ON " + q("events_correlation") + " ((metadata->>'correlation_id')) WHERE metadata->>'correlation_id' IS NOT NULL",
	} {
		if _, err := ef.pool.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("appendbench: copy the events table with a correlation index: %w", err)
		}
	}
	return newEventsInto(ef, "events_correlation"), nil
}

// newEventfoldWithoutTypeIndex is eventfold's append into a schema of its
// own without the index events_type_log (migration 014), which serves
// filtered reads of the log: what that index costs an append.
func newEventfoldWithoutTypeIndex(ctx context.Context, env *harness.Env, pool *pgxpool.Pool, name string, events int) (*eventfoldTarget, error) {
	schema, err := env.Schema(ctx, name+"-no-type-index")
	if err != nil {
		return nil, err
	}
	ef, err := newEventfold(ctx, pool, schema, events)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, "DROP INDEX "+pgx.Identifier{schema, "events_type_log"}.Sanitize()); err != nil {
		return nil, fmt.Errorf("appendbench: drop the type index: %w", err)
	}
	return ef, nil
}

func newEventsInto(ef *eventfoldTarget, table string) *eventsOnlyTarget {
	var values []string
	for i := range ef.events {
		p := 7 * i
		values = append(values, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d)", p+1, p+2, p+3, p+4, p+5, p+6, p+7))
	}
	sql := "INSERT INTO " + pgx.Identifier{ef.schema, table}.Sanitize() +
		" (stream_id, version, event_id, type, content_type, data, metadata) VALUES " + strings.Join(values, ", ") +
		" RETURNING transaction_id, global_position"
	return &eventsOnlyTarget{ef: ef, table: table, sql: sql}
}

func (t *eventsOnlyTarget) reset(ctx context.Context) error {
	return truncate(ctx, t.ef.pool, t.ef.schema, t.table)
}

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
			return fmt.Errorf("events-only insert into %s: %w", t.table, err)
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
