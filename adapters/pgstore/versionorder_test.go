package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// TestDirectInsertsKeepStreamVersionOrder writes to the events table as a
// migration tool or a DBA would, past the append functions: the table
// refuses a version that does not follow its stream's last one, or that
// would list the stream out of order in the log, and takes one that does.
func TestDirectInsertsKeepStreamVersionOrder(t *testing.T) {
	pool, schema := testenv.Schema(t)
	ctx := t.Context()
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.EnforceVersionOrder(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	event := []eventstore.Event{{Type: "E", Data: []byte(`{}`)}}
	if _, err := store.Append(ctx, "s", eventstore.NoStream, append(event, event...)); err != nil {
		t.Fatal(err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	insert := func(db interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	}, stream string, versions ...int64) error {
		sql := "INSERT INTO " + q + ".events (stream_id, version, event_id, type, content_type, data) VALUES "
		args := []any{stream}
		for i, v := range versions {
			if i > 0 {
				sql += ", "
			}
			sql += fmt.Sprintf("($1, $%d, $%d, 'E', 'application/json', '{}')", len(args)+1, len(args)+2)
			args = append(args, v, uuid.New())
		}
		_, err := db.Exec(ctx, sql, args...)
		return err
	}
	refused := func(what, code, wantMsg string, err error) {
		t.Helper()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != code {
			t.Errorf("%s: %v; want it refused with SQLSTATE %s", what, err, code)
		} else if wantMsg != "" && !strings.Contains(pgErr.Message, wantMsg) {
			t.Errorf("%s: %q; want a message naming %q", what, pgErr.Message, wantMsg)
		}
	}
	refused("a direct INSERT leaving a gap (version 4 after 2)", "23514", "version 3", insert(pool, "s", 4))
	refused("a direct INSERT out of order (versions 4, 3 after 2)", "23514", "version 3", insert(pool, "s", 4, 3))
	refused("a direct INSERT of version 0", "23514", "version 0", insert(pool, "s", 0))
	refused("a direct INSERT of version 2 of a new stream", "23514", "version 1", insert(pool, "new", 2))

	// A transaction that took its ID before another appended version 3
	// would list version 4 before 3 in the log.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "s", eventstore.Exact(2), event); err != nil {
		t.Fatal(err)
	}
	refused("a direct INSERT by a transaction older than the previous version's", "40001", "", insert(tx, "s", 4))
	_ = tx.Rollback(ctx)

	if err := insert(pool, "s", 4, 5); err != nil {
		t.Errorf("direct INSERT of versions 4 and 5 after 3: %v", err)
	}
	if err := insert(pool, "other", 1, 2); err != nil {
		t.Errorf("direct INSERT of a new stream's versions 1 and 2: %v", err)
	}
	if res, err := store.Append(ctx, "s", eventstore.Exact(5), event); err != nil || res.StreamVersion != 6 {
		t.Errorf("append after the direct inserts = %+v, %v; want version 6", res, err)
	}
}

// BenchmarkAppend measures appends end to end, commit included, with and
// without the events table's version-order trigger: one event at an exact
// version (the fast path), one event with Any (the locked path), and ten
// events at once.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	event := []eventstore.Event{{Type: "E", Data: []byte(`{"amount":1}`)}}
	ten := make([]eventstore.Event, 10)
	for i := range ten {
		ten[i] = event[0]
	}
	for _, trigger := range []string{"off", "on"} {
		newBenchStore := func(b *testing.B) *pgstore.Store {
			pool, schema := testenv.Schema(b)
			if err := pgstore.Migrate(ctx, pool, &pgstore.Options{Schema: schema}); err != nil {
				b.Fatal(err)
			}
			if trigger == "off" {
				if _, err := pool.Exec(ctx, "ALTER TABLE "+pgx.Identifier{schema}.Sanitize()+".events DISABLE TRIGGER events_version_order"); err != nil {
					b.Fatal(err)
				}
			}
			s, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}
		b.Run("exact/trigger="+trigger, func(b *testing.B) {
			s := newBenchStore(b)
			for i := range b.N {
				expected := eventstore.Exact(int64(i))
				if i == 0 {
					expected = eventstore.NoStream
				}
				if _, err := s.Append(ctx, "s", expected, event); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("any/trigger="+trigger, func(b *testing.B) {
			s := newBenchStore(b)
			for i := range b.N {
				if _, err := s.Append(ctx, fmt.Sprintf("s-%d", i%100), eventstore.Any, event); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("ten/trigger="+trigger, func(b *testing.B) {
			s := newBenchStore(b)
			for i := range b.N {
				if _, err := s.Append(ctx, fmt.Sprintf("s-%d", i%100), eventstore.Any, ten); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVersionOrderTrigger measures the server's cost of an append
// with and without the events table's version-order trigger, without the
// commit's flush (which dominates BenchmarkAppend): b.N appends in one
// statement, by the append function (Any, one event or ten) and by the
// client's exact-version INSERT.
func BenchmarkVersionOrderTrigger(b *testing.B) {
	ctx := context.Background()
	for _, trigger := range []string{"on", "off"} {
		for name, body := range map[string]string{
			"any": `PERFORM * FROM %[1]s.append_events('s-' || (i %% 100), -1, NULL, false, ARRAY[gen_random_uuid()], ARRAY['E'],
				ARRAY['application/json'], ARRAY['{}'::bytea], ARRAY[NULL::jsonb]);`,
			"ten": `PERFORM * FROM %[1]s.append_events('s-' || (i %% 100), -1, NULL, false,
				ARRAY(SELECT gen_random_uuid() FROM generate_series(1, 10)), array_fill('E'::text, ARRAY[10]),
				array_fill('application/json'::text, ARRAY[10]), array_fill('{}'::bytea, ARRAY[10]), array_fill(NULL::jsonb, ARRAY[10]));`,
			"exact": `INSERT INTO %[1]s.events (tenant_id, stream_id, version, event_id, type, content_type, data)
				SELECT '', 'x', i + 1, gen_random_uuid(), 'E', 'application/json', '{}'
				WHERE EXISTS (SELECT FROM %[1]s.events p WHERE p.tenant_id = '' AND p.stream_id = 'x' AND p.version = i);`,
		} {
			b.Run(name+"/trigger="+trigger, func(b *testing.B) {
				pool, schema := testenv.Schema(b)
				if err := pgstore.Migrate(ctx, pool, &pgstore.Options{Schema: schema}); err != nil {
					b.Fatal(err)
				}
				s, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Append(ctx, "x", eventstore.NoStream, []eventstore.Event{{Type: "E", Data: []byte(`{}`)}}); err != nil {
					b.Fatal(err)
				}
				q := pgx.Identifier{schema}.Sanitize()
				if trigger == "off" {
					if _, err := pool.Exec(ctx, "ALTER TABLE "+q+".events DISABLE TRIGGER events_version_order"); err != nil {
						b.Fatal(err)
					}
				}
				sql := fmt.Sprintf("DO $$ BEGIN FOR i IN 1.."+fmt.Sprint(b.N)+" LOOP "+body+" END LOOP; END $$", q)
				b.ResetTimer()
				if _, err := pool.Exec(ctx, sql); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
