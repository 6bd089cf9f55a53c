package pgstore

import (
	"context"
	"io/fs"
)

// SchemaFiles and MigrateFS let tests migrate with changed schema files.
var SchemaFiles fs.FS = schemaFiles

func MigrateFS(ctx context.Context, db DB, opts *Options, files fs.FS) error {
	return migrate(ctx, db, opts, files)
}

// SchemaSQL lets tests replay the migrations of earlier releases.
func SchemaSQL(sql, quoted string) string { return schemaSQL(sql, quoted) }
