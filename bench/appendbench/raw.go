package appendbench

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/eventstore"
)

// rawTarget is the limit: one INSERT statement, in autocommit, of the same
// rows into a plain table, the writer keeping its stream's version. The
// table is the one of the machine's performance baseline, so its figures
// compare with the peers measured there.
type rawTarget struct {
	pool   *pgxpool.Pool
	schema string
	events int
	sql    string
}

const rawTable = `CREATE TABLE %s (
	global_position bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	stream_id       text        NOT NULL,
	stream_version  int         NOT NULL,
	event_type      text        NOT NULL,
	payload         jsonb       NOT NULL,
	metadata        jsonb       NOT NULL,
	recorded_at     timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT raw_events_stream_version_uq UNIQUE (stream_id, stream_version))`

func newRaw(ctx context.Context, pool *pgxpool.Pool, schema string, events int) (*rawTarget, error) {
	table := pgx.Identifier{schema, "raw_events"}.Sanitize()
	if _, err := pool.Exec(ctx, fmt.Sprintf(rawTable, table)); err != nil {
		return nil, fmt.Errorf("appendbench: create raw table: %w", err)
	}
	var values []string
	for i := range events {
		p := 5 * i
		values = append(values, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d)", p+1, p+2, p+3, p+4, p+5))
	}
	sql := "INSERT INTO " + table + " (stream_id, stream_version, event_type, payload, metadata) VALUES " +
		strings.Join(values, ", ") + " RETURNING global_position"
	return &rawTarget{pool: pool, schema: schema, events: events, sql: sql}, nil
}

func (t *rawTarget) reset(ctx context.Context) error {
	return truncate(ctx, t.pool, t.schema, "raw_events")
}

func (t *rawTarget) writer() (func(context.Context) error, error) {
	stream := "order-" + eventstore.NewEventID()
	args := make([]any, 5*t.events)
	var version int64
	return func(ctx context.Context) error {
		for i := range t.events {
			args[5*i] = stream
			args[5*i+1] = version + int64(i) + 1
			args[5*i+2] = eventType
			args[5*i+3] = payload
			args[5*i+4] = metaJSON
		}
		rows, err := t.pool.Query(ctx, t.sql, args...)
		if err != nil {
			return fmt.Errorf("raw insert: %w", err)
		}
		n := 0
		var pos int64
		for rows.Next() {
			if err := rows.Scan(&pos); err != nil {
				rows.Close()
				return fmt.Errorf("raw insert: %w", err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("raw insert: %w", err)
		}
		if n != t.events {
			return fmt.Errorf("raw insert: %d rows returned, want %d", n, t.events)
		}
		version += int64(t.events)
		return nil
	}, nil
}
