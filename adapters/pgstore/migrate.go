package pgstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/eventstore"
)

//go:embed schema/*.sql
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

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(schemaFiles, "schema")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("pgstore: migration file %s is not named NNN_name.sql", e.Name())
		}
		b, err := schemaFiles.ReadFile(path.Join("schema", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate creates or upgrades eventfold's tables in the schema named by
// opts.Schema (default "eventfold"), creating the schema if needed. It is
// idempotent and safe to run from several processes at once: each run takes a
// transaction-level advisory lock for the schema, applies the migrations not
// yet recorded in the schema_migrations table, and commits them all or none.
// New never migrates; call Migrate at deployment or start-up.
func Migrate(ctx context.Context, db DB, opts *Options) error {
	schema, err := schemaOf(opts)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	all, err := migrations()
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
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+quoted+`.schema_migrations (
		version    int PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+quoted+".schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	for _, m := range all {
		if m.version <= current {
			continue
		}
		if _, err := tx.Exec(ctx, schemaSQL(m.sql, quoted)); err != nil {
			return fmt.Errorf("pgstore: migrate: %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+quoted+".schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("pgstore: migrate: %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
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
