package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// TestSchemaNamesPostgreSQLWouldAlter checks that every constructor taking
// Options.Schema rejects the names PostgreSQL would truncate (over 63 bytes:
// two such names would share one schema) or cannot hold, and that nothing
// is created for them.
func TestSchemaNamesPostgreSQLWouldAlter(t *testing.T) {
	pool := testenv.Pool(t)
	ctx := t.Context()
	prefix := "t_long_" + strings.Repeat("x", 56) // 63 bytes
	bad := map[string]string{
		"64 bytes":      prefix + "a",
		"multibyte":     prefix[:62] + "é",
		"NUL":           "t_nul\x00schema",
		"invalid UTF-8": "t_bad\xffschema",
	}
	for name, schema := range bad {
		t.Run(name, func(t *testing.T) {
			opts := &pgstore.Options{Schema: schema}
			checks := map[string]error{
				"Migrate":                pgstore.Migrate(ctx, pool, opts),
				"CreateCorrelationIndex": pgstore.CreateCorrelationIndex(ctx, pool, opts),
				"EnableRowLevelSecurity": pgstore.EnableRowLevelSecurity(ctx, pool, &pgstore.RowLevelSecurityOptions{Schema: schema}),
			}
			_, checks["New"] = pgstore.New(pool, opts)
			_, checks["Checkpoints.Load"] = pgstore.NewCheckpoints(pool, opts).Load(ctx, "c")
			checks["Checkpoints.Save"] = pgstore.NewCheckpoints(pool, opts).Save(ctx, "c", eventstore.Position{})
			_, checks["Keys.Key"] = pgstore.NewKeys(pool, opts).Key(ctx, "s")
			_, _, checks["Keys.Lookup"] = pgstore.NewKeys(pool, opts).Lookup(ctx, "s")
			checks["Keys.Forget"] = pgstore.NewKeys(pool, opts).Forget(ctx, "s")
			_, checks["Snapshots.Load"] = pgstore.NewSnapshots(pool, opts).Load(ctx, "s")
			checks["Snapshots.Save"] = pgstore.NewSnapshots(pool, opts).Save(ctx, command.Snapshot{StreamID: "s", Version: 1, SchemaVersion: 1, State: []byte(`{}`)})
			for call, err := range checks {
				if !errors.Is(err, eventstore.ErrInvalidInput) || !strings.Contains(err.Error(), "schema") {
					t.Errorf("%s with schema %q = %v, want ErrInvalidInput naming the schema", call, schema, err)
				}
			}
		})
	}
	rows, err := pool.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't_long_%' OR nspname LIKE 't_nul%' OR nspname LIKE 't_bad%'")
	if err != nil {
		t.Fatal(err)
	}
	created, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, schema := range created {
		t.Errorf("schema %q was created for a rejected name", schema)
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema: %v", err)
		}
	}
}

// TestSchemaNamesWithQuotesAndDollars migrates and uses schemas whose names
// hold the characters SQL text is made of: quotes and dollar-quote tags.
func TestSchemaNamesWithQuotesAndDollars(t *testing.T) {
	pool := testenv.Pool(t)
	for _, schema := range []string{
		"t_$$dollar$$_" + randomSuffix(t),
		"t_$eventfold$_" + randomSuffix(t),
		`t_"quote'_` + randomSuffix(t),
		"t_" + strings.Repeat("y", 53) + randomSuffix(t)[:8], // exactly 63 bytes
	} {
		t.Run(schema, func(t *testing.T) {
			ctx := t.Context()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
					t.Logf("drop schema: %v", err)
				}
			})
			opts := &pgstore.Options{Schema: schema}
			if err := pgstore.Migrate(ctx, pool, opts); err != nil {
				t.Fatalf("Migrate(%q): %v", schema, err)
			}
			s, err := pgstore.New(pool, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, "a", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
				t.Fatalf("Append in schema %q: %v", schema, err)
			}
			var got string
			if err := pool.QueryRow(ctx, "SELECT stream_id FROM "+pgx.Identifier{schema, "events"}.Sanitize()).Scan(&got); err != nil || got != "a" {
				t.Errorf("events of schema %q: %q, %v", schema, got, err)
			}
		})
	}
}

func randomSuffix(t *testing.T) string {
	return strings.ReplaceAll(eventstore.NewEventID()[24:], "-", "")
}
