package pgstore

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/eventstore"
)

//go:embed schema/*.sql schema/functions/*.sql
var schemaFiles embed.FS

// DefaultSchema is the PostgreSQL schema that holds eventfold's tables when
// Options.Schema is empty.
const DefaultSchema = "eventfold"

// MaxSchemaBytes is the longest schema name, in bytes: PostgreSQL silently
// truncates longer identifiers, which would make two schema names share
// one schema.
const MaxSchemaBytes = 63

// ValidateSchema checks a schema name given in Options.Schema: at most
// MaxSchemaBytes, valid UTF-8 and free of NUL bytes (which PostgreSQL
// cannot hold). Any other character, quotes and dollar signs included, is
// allowed. The empty name stands for DefaultSchema. It returns an
// *eventstore.InvalidInputError.
func ValidateSchema(name string) error {
	reason := ""
	switch {
	case len(name) > MaxSchemaBytes:
		reason = fmt.Sprintf("%q is %d bytes long, more than PostgreSQL's limit of %d", name, len(name), MaxSchemaBytes)
	case !utf8.ValidString(name):
		reason = fmt.Sprintf("%q is not valid UTF-8", name)
	case strings.IndexByte(name, 0) >= 0:
		reason = fmt.Sprintf("%q contains a NUL byte", name)
	default:
		return nil
	}
	return &eventstore.InvalidInputError{Field: "schema", Reason: reason}
}

// schemaOf returns the schema opts names, DefaultSchema when none, or an
// error naming what is wrong with it.
func schemaOf(opts *Options) (string, error) {
	if opts == nil || opts.Schema == "" {
		return DefaultSchema, nil
	}
	return opts.Schema, ValidateSchema(opts.Schema)
}

// A migration is a numbered file of schema/: it changes tables, indexes,
// triggers or data once, in version order.
type migration struct {
	version int
	name    string
	sql     string
}

// A function is a file of schema/functions: the current definition of the
// SQL function it is named after, applied again whenever its text changes.
type function struct {
	name string
	sql  string
	hash string
}

// functionInclude is how a migration that needs a function before the
// functions are applied (a trigger names its function) includes its file.
var functionInclude = regexp.MustCompile(`\{\{function ([a-z_]+)\}\}`)

func migrations(files fs.FS, fns []function) ([]migration, error) {
	entries, err := fs.ReadDir(files, "schema")
	if err != nil {
		return nil, err
	}
	byName := map[string]string{}
	for _, f := range fns {
		byName[f.name] = f.sql
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("pgstore: migration file %s is not named NNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(files, path.Join("schema", e.Name()))
		if err != nil {
			return nil, err
		}
		var missing string
		sql := functionInclude.ReplaceAllStringFunc(string(b), func(m string) string {
			name := functionInclude.FindStringSubmatch(m)[1]
			def, ok := byName[name]
			if !ok {
				missing = name
			}
			return def
		})
		if missing != "" {
			return nil, fmt.Errorf("pgstore: migration file %s includes function %s, which has no file schema/functions/%s.sql", e.Name(), missing, missing)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: sql})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

func functions(files fs.FS) ([]function, error) {
	entries, err := fs.ReadDir(files, "schema/functions")
	if err != nil {
		return nil, err
	}
	var out []function
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if e.IsDir() || !ok {
			return nil, fmt.Errorf("pgstore: function file %s is not named name.sql", e.Name())
		}
		b, err := fs.ReadFile(files, path.Join("schema/functions", e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, function{name: name, sql: string(b), hash: hex.EncodeToString(sum[:])})
	}
	return out, nil // ReadDir sorts by name
}

// Migrate creates or upgrades eventfold's tables and functions in the
// schema named by opts.Schema (default "eventfold"), creating the schema if
// needed. It is idempotent and safe to run from several processes at once:
// each run takes a transaction-level advisory lock for the schema, applies
// the numbered migrations not yet recorded in the schema_migrations table,
// then each function whose file's hash differs from the one recorded in
// schema_functions, and commits them all or none. A schema that a newer
// release migrated (one with migrations this release does not know) is
// left as it is. New never migrates; call
// Migrate at deployment or start-up.
func Migrate(ctx context.Context, db DB, opts *Options) error {
	return migrate(ctx, db, opts, schemaFiles)
}

func migrate(ctx context.Context, db DB, opts *Options, files fs.FS) error {
	schema, err := schemaOf(opts)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	fns, err := functions(files)
	if err != nil {
		return err
	}
	all, err := migrations(files, fns)
	if err != nil {
		return err
	}
	quoted := pgx.Identifier{schema}.Sanitize()
	h := fnv.New64a()
	h.Write([]byte("eventfold.migrate." + schema))
	lockKey := int64(h.Sum64())

	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoted); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	current, err := applyMigrations(ctx, tx, quoted, all)
	if err != nil {
		return err
	}
	// A schema a newer release migrated keeps that release's functions:
	// an older process starting during a rolling deploy must not put its
	// own definitions back.
	if len(all) == 0 || current <= all[len(all)-1].version {
		if err := applyFunctions(ctx, tx, quoted, fns); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// applyMigrations applies, in version order, every migration that
// schema_migrations does not record, and records it. A version below the
// highest recorded one is applied too: two branches that each add a
// migration may reach a database in either order. It returns the highest
// version the schema had.
func applyMigrations(ctx context.Context, tx pgx.Tx, quoted string, all []migration) (int, error) {
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+quoted+`.schema_migrations (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("pgstore: migrate: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM "+quoted+".schema_migrations")
	if err != nil {
		return 0, fmt.Errorf("pgstore: migrate: %w", err)
	}
	recorded, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return 0, fmt.Errorf("pgstore: migrate: %w", err)
	}
	applied := make(map[int]bool, len(recorded))
	current := 0
	for _, v := range recorded {
		applied[v] = true
		current = max(current, v)
	}
	for _, m := range all {
		if applied[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, schemaSQL(m.sql, quoted)); err != nil {
			return 0, fmt.Errorf("pgstore: migrate: %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+quoted+".schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return 0, fmt.Errorf("pgstore: migrate: %s: %w", m.name, err)
		}
	}
	return current, nil
}

// applyFunctions runs each function file whose hash differs from the one
// recorded in schema_functions (CREATE OR REPLACE, after a DROP FUNCTION IF
// EXISTS of any signature it replaces) and records the new hash. Rows of
// functions that no longer have a file go; a numbered migration drops the
// function itself.
func applyFunctions(ctx context.Context, tx pgx.Tx, quoted string, fns []function) error {
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+quoted+`.schema_functions (
		name       text PRIMARY KEY,
		hash       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT name, hash FROM "+quoted+".schema_functions")
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	applied := map[string]string{}
	var name, hash string
	if _, err := pgx.ForEachRow(rows, []any{&name, &hash}, func() error {
		applied[name] = hash
		return nil
	}); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	names := make([]string, 0, len(fns))
	for _, f := range fns {
		names = append(names, f.name)
		if applied[f.name] == f.hash {
			continue
		}
		if _, err := tx.Exec(ctx, schemaSQL(f.sql, quoted)); err != nil {
			return fmt.Errorf("pgstore: migrate: functions/%s.sql: %w", f.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+quoted+`.schema_functions (name, hash) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, applied_at = now()`, f.name, f.hash); err != nil {
			return fmt.Errorf("pgstore: migrate: functions/%s.sql: %w", f.name, err)
		}
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+quoted+".schema_functions WHERE name <> ALL($1)", names); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// schemaSQL puts the quoted schema name into a migration's text. Function
// bodies are dollar-quoted ($$ in the files); a schema name may itself hold
// $$, so the bodies get a tag the name does not contain.
func schemaSQL(sql, quoted string) string {
	tag := "$eventfold$"
	for i := 0; strings.Contains(quoted, tag); i++ {
		tag = "$eventfold" + strconv.Itoa(i) + "$"
	}
	return strings.ReplaceAll(strings.ReplaceAll(sql, "$$", tag), "{{schema}}", quoted)
}
