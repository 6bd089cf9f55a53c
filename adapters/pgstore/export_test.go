package pgstore

import (
	"context"
	"io/fs"

	"github.com/eventfold/eventfold/eventstore"
)

// SchemaFiles and MigrateFS let tests migrate with changed schema files.
var SchemaFiles fs.FS = schemaFiles

func MigrateFS(ctx context.Context, db DB, opts *Options, files fs.FS) error {
	return migrate(ctx, db, opts, files)
}

// SchemaSQL lets tests replay the migrations of earlier releases.
func SchemaSQL(sql, quoted string) string { return schemaSQL(sql, quoted) }

// HoldAppend appends events to stream in a transaction of its own on s's
// connection pool and leaves it open until commit is called, as a slow
// writer does.
func HoldAppend(ctx context.Context, s *Store, stream string, events []eventstore.Event) (eventstore.AppendResult, func() error, error) {
	tx, err := s.raw.Begin(ctx)
	if err != nil {
		return eventstore.AppendResult{}, nil, err
	}
	inTx, err := New(tx, &s.opts)
	if err == nil && s.tenant != "" {
		inTx, err = inTx.ForTenant(s.tenant)
	}
	var res eventstore.AppendResult
	if err == nil {
		res, err = inTx.Append(ctx, stream, eventstore.Any, events)
	}
	if err != nil {
		_ = tx.Rollback(ctx)
		return res, nil, err
	}
	return res, func() error { return tx.Commit(context.WithoutCancel(ctx)) }, nil
}
