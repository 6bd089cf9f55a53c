package pgstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// oldMigrations are the numbered files of schema version 12, in which each
// migration still (re)defined the functions it changed.
const oldMigrations = "testdata/migrations-012"

// TestMigrateUpgradeMatchesFresh upgrades schemas left at each version of
// the old sequence and compares every table, column, index, constraint,
// trigger and function with a freshly migrated schema.
func TestMigrateUpgradeMatchesFresh(t *testing.T) {
	pool, fresh := testenv.Schema(t)
	ctx := t.Context()
	if err := pgstore.Migrate(ctx, pool, &pgstore.Options{Schema: fresh}); err != nil {
		t.Fatal(err)
	}
	want := describeSchema(t, pool, fresh)
	for version := 1; version <= 12; version++ {
		t.Run("from "+strconv.Itoa(version), func(t *testing.T) {
			pool, schema := testenv.Schema(t)
			replayOldMigrations(t, pool, schema, version)
			opts := &pgstore.Options{Schema: schema}
			if err := pgstore.Migrate(ctx, pool, opts); err != nil {
				t.Fatalf("Migrate from version %d: %v", version, err)
			}
			got := describeSchema(t, pool, schema)
			diffLines(t, got, want)
			s, err := pgstore.New(pool, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendKeyed(ctx, "cmd", "s", eventstore.NoStream, oneEvent(1)); err != nil {
				t.Errorf("append after the upgrade: %v", err)
			}
		})
	}
}

// replayOldMigrations applies the old files up to version as the old
// Migrate did, recording them in schema_migrations.
func replayOldMigrations(t *testing.T, pool *pgxpool.Pool, schema string, version int) {
	t.Helper()
	ctx := t.Context()
	quoted := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE TABLE "+quoted+`.schema_migrations (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(oldMigrations, "*.sql"))
	if err != nil || len(files) != 12 {
		t.Fatalf("old migrations: %d files, %v", len(files), err)
	}
	sort.Strings(files)
	for i, file := range files[:version] {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, pgstore.SchemaSQL(string(b), quoted)); err != nil {
			t.Fatalf("old migration %s: %v", file, err)
		}
		if _, err := pool.Exec(ctx, "INSERT INTO "+quoted+".schema_migrations (version, name) VALUES ($1, $2)", i+1, filepath.Base(file)); err != nil {
			t.Fatal(err)
		}
	}
}

// describeSchema lists the definitions of everything in schema, one line
// each, sorted, with the schema's name replaced by S.
func describeSchema(t *testing.T, pool *pgxpool.Pool, schema string) []string {
	t.Helper()
	const ns = "(SELECT oid FROM pg_namespace WHERE nspname = $1)"
	queries := []string{
		`SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(array_to_string(c.reloptions, ','), '') ||
			' rls=' || c.relrowsecurity FROM pg_class c WHERE c.relnamespace = ` + ns,
		`SELECT 'column ' || c.relname || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod) ||
			' notnull=' || a.attnotnull || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text ||
			' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
			FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
			LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE c.relnamespace = ` + ns + ` AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
		`SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
			WHERE c.relnamespace = ` + ns,
		`SELECT 'constraint ' || c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid) || ' validated=' || k.convalidated
			FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = ` + ns,
		`SELECT 'trigger ' || pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text
			FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = ` + ns + ` AND NOT g.tgisinternal`,
		`SELECT 'function ' || pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = ` + ns,
		`SELECT 'applied ' || version || ' ' || name FROM ` + pgx.Identifier{schema, "schema_migrations"}.Sanitize() + ` WHERE $1 <> ''`,
		`SELECT 'function file ' || name || ' ' || hash FROM ` + pgx.Identifier{schema, "schema_functions"}.Sanitize() + ` WHERE $1 <> ''`,
	}
	var lines []string
	for _, q := range queries {
		rows, err := pool.Query(t.Context(), q, schema)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		lines = append(lines, got...)
	}
	for i, l := range lines {
		l = strings.ReplaceAll(l, pgx.Identifier{schema}.Sanitize(), "S")
		lines[i] = strings.ReplaceAll(l, schema, "S")
	}
	sort.Strings(lines)
	return lines
}

// diffLines reports the lines only one of got and want holds.
func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, l := range want {
		count[l]++
	}
	for _, l := range got {
		count[l]--
	}
	for l, n := range count {
		switch {
		case n > 0:
			t.Errorf("the upgraded schema lacks:\n%s", l)
		case n < 0:
			t.Errorf("the upgraded schema has, and a fresh one does not:\n%s", l)
		}
	}
}

// TestMigrateFunctions checks that a second Migrate recreates nothing, that
// a changed function file is applied again (and only that one), that the
// record of a function whose file is gone goes, and that an older release
// leaves a newer release's functions alone.
func TestMigrateFunctions(t *testing.T) {
	pool, schema := testenv.Schema(t)
	ctx := t.Context()
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	before := functionRows(t, pool, schema)
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	if again := functionRows(t, pool, schema); !equalMaps(again, before) {
		t.Errorf("a second Migrate changed the functions:\n%v\nwas\n%v", again, before)
	}

	files := copyFS(t, pgstore.SchemaFiles)
	const file = "schema/functions/stream_version.sql"
	changed := strings.Replace(string(files[file].Data), "ORDER BY e.version DESC LIMIT 1), 0)", "ORDER BY e.version DESC LIMIT 1), 0) + 1000", 1)
	if changed == string(files[file].Data) {
		t.Fatal("stream_version.sql does not hold the expected query")
	}
	files[file] = &fstest.MapFile{Data: []byte(changed)}
	delete(files, "schema/functions/events_follow_stream.sql")
	files["schema/012_events_version_order.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")} // no longer includes it
	if err := pgstore.MigrateFS(ctx, pool, opts, files); err != nil {
		t.Fatal(err)
	}
	var version int64
	if err := pool.QueryRow(ctx, "SELECT "+pgx.Identifier{schema}.Sanitize()+".stream_version('', 'none')").Scan(&version); err != nil || version != 1000 {
		t.Errorf("stream_version after its file changed = %d, %v; want 1000", version, err)
	}
	after := functionRows(t, pool, schema)
	for name, row := range before {
		switch name {
		case "events_follow_stream":
		case "stream_version":
			if after[name] == row {
				t.Errorf("function %s: record unchanged: %s", name, row)
			}
		default:
			if after[name] != row {
				t.Errorf("function %s was applied again although its file did not change", name)
			}
		}
	}
	if _, ok := after["events_follow_stream"]; ok {
		t.Error("the record of events_follow_stream, whose file is gone, is kept")
	}

	// A schema a newer release migrated keeps that release's functions.
	if _, err := pool.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+" (version, name) VALUES (999, '999_newer.sql')"); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT "+pgx.Identifier{schema}.Sanitize()+".stream_version('', 'none')").Scan(&version); err != nil || version != 1000 {
		t.Errorf("stream_version after an older release's Migrate = %d, %v; want the newer definition's 1000", version, err)
	}
}

// functionRows maps each recorded function file to its hash, applied_at and
// the xmin of its pg_proc rows, which a CREATE OR REPLACE changes.
func functionRows(t *testing.T, pool *pgxpool.Pool, schema string) map[string]string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT f.name, f.hash || ' ' || f.applied_at::text || ' ' ||
			coalesce((SELECT string_agg(p.xmin::text, ',') FROM pg_proc p
				WHERE p.proname = f.name AND p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)), '')
		FROM `+pgx.Identifier{schema, "schema_functions"}.Sanitize()+` f`, schema)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var name, row string
	if _, err := pgx.ForEachRow(rows, []any{&name, &row}, func() error {
		out[name] = row
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("schema_functions is empty")
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func copyFS(t *testing.T, src fs.FS) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A migration that includes a function without a file fails before it
// touches the database.
func TestMigrateIncludeOfMissingFunction(t *testing.T) {
	files := fstest.MapFS{
		"schema/001_a.sql":       {Data: []byte("{{function nowhere}}")},
		"schema/functions/f.sql": {Data: []byte("SELECT 1;")},
	}
	err := pgstore.MigrateFS(context.Background(), nil, nil, files)
	if err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("Migrate with an include of a missing function = %v, want an error naming it", err)
	}
}

// TestFunctionChangesComeWithAMigration keeps the rule that lets an older
// release's Migrate leave a newer release's functions alone: a release
// that changes a function file also adds a numbered migration (a comment is
// enough). testdata/functions.sum records each file's hash and the highest
// migration when one last changed.
func TestFunctionChangesComeWithAMigration(t *testing.T) {
	b, err := os.ReadFile("testdata/functions.sum")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			recorded[k] = v
		}
	}
	migrations, err := fs.Glob(pgstore.SchemaFiles, "schema/[0-9]*.sql")
	if err != nil || len(migrations) == 0 {
		t.Fatal(migrations, err)
	}
	highest := strings.TrimLeft(strings.SplitN(path.Base(migrations[len(migrations)-1]), "_", 2)[0], "0")
	files, err := fs.Glob(pgstore.SchemaFiles, "schema/functions/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var sum strings.Builder
	changed := false
	for _, f := range files {
		b, err := fs.ReadFile(pgstore.SchemaFiles, f)
		if err != nil {
			t.Fatal(err)
		}
		name, hash := strings.TrimSuffix(path.Base(f), ".sql"), fmt.Sprintf("%x", sha256.Sum256(b))
		fmt.Fprintf(&sum, "%s %s\n", name, hash)
		changed = changed || recorded[name] != hash
	}
	changed = changed || len(recorded) != len(files)+1 // a file added or removed
	switch {
	case changed && recorded["version"] == highest:
		t.Errorf("a function file changed without a new numbered migration: add one (a comment is enough), so that an older release's Migrate leaves the new definition alone")
	case changed:
		t.Errorf("testdata/functions.sum is out of date; its lines after the comment are:\nversion %s\n%s", highest, sum.String())
	}
}

// TestMigrateAppliesAMissingVersion migrates a schema that recorded a
// higher version without a lower one (two branches each adding one
// migration, merged in the other order): the lower one is applied too.
func TestMigrateAppliesAMissingVersion(t *testing.T) {
	pool, schema := testenv.Schema(t)
	ctx := t.Context()
	opts := &pgstore.Options{Schema: schema}
	files := copyFS(t, pgstore.SchemaFiles)
	var numbered []string
	for name := range files {
		if path.Dir(name) == "schema" && strings.HasSuffix(name, ".sql") {
			numbered = append(numbered, name)
		}
	}
	sort.Strings(numbered)
	last := numbered[len(numbered)-1]
	version, err := strconv.Atoi(strings.SplitN(path.Base(last), "_", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	lower := fmt.Sprintf("schema/%03d_lower_branch.sql", version+1)
	higher := fmt.Sprintf("schema/%03d_higher_branch.sql", version+2)
	files[higher] = &fstest.MapFile{Data: []byte("CREATE TABLE {{schema}}.higher_branch (id int);")}
	if err := pgstore.MigrateFS(ctx, pool, opts, files); err != nil {
		t.Fatal(err)
	}
	files[lower] = &fstest.MapFile{Data: []byte("CREATE TABLE {{schema}}.lower_branch (id int);")}
	if err := pgstore.MigrateFS(ctx, pool, opts, files); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, "lower_branch"}.Sanitize()).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		t.Errorf("migration %s, older than the recorded %s, was never applied", lower, higher)
	}
	if err := pgstore.MigrateFS(ctx, pool, opts, files); err != nil {
		t.Errorf("migrating again: %v", err)
	}
}
