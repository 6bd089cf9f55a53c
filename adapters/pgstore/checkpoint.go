package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

var _ command.Checkpoints = (*Checkpoints)(nil)

// Checkpoints stores named log positions in PostgreSQL (table checkpoints),
// for consumers such as the Watermill relay and command.Process. Each Save is one short
// autocommit statement, so it never holds back readers of the log.
type Checkpoints struct {
	db      DB
	err     error // an invalid Options.Schema, returned by every call
	loadSQL string
	saveSQL string
	listSQL string
}

// NamedCheckpoint is a checkpoint with its name and when it last moved.
type NamedCheckpoint struct {
	Name      string
	Position  eventstore.Position
	UpdatedAt time.Time
}

// NewCheckpoints returns Checkpoints in the schema named by opts.Schema
// (default "eventfold"). Migrate must have run. With an invalid schema name
// (see ValidateSchema), every call fails with that error.
func NewCheckpoints(db DB, opts *Options) *Checkpoints {
	schema, err := schemaOf(opts)
	q := pgx.Identifier{schema}.Sanitize()
	return &Checkpoints{
		db:      db,
		err:     err,
		loadSQL: "SELECT transaction_id, global_position FROM " + q + ".checkpoints WHERE name = $1",
		// Never move a checkpoint backwards, so a deposed writer cannot
		// undo its successor's progress.
		saveSQL: "INSERT INTO " + q + ".checkpoints AS c (name, transaction_id, global_position) VALUES ($1, $2, $3)" +
			" ON CONFLICT (name) DO UPDATE SET transaction_id = excluded.transaction_id," +
			" global_position = excluded.global_position, updated_at = now()" +
			" WHERE (c.transaction_id, c.global_position) < (excluded.transaction_id, excluded.global_position)",
		listSQL: "SELECT name, transaction_id, global_position, updated_at FROM " + q + ".checkpoints" +
			" WHERE starts_with(name, $1) ORDER BY name",
	}
}

// List returns the checkpoints whose names start with prefix, by name:
// "process/" lists every command.Process's position.
func (c *Checkpoints) List(ctx context.Context, prefix string) ([]NamedCheckpoint, error) {
	if c.err != nil {
		return nil, c.err
	}
	rows, err := c.db.Query(ctx, c.listSQL, prefix)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list checkpoints %q: %w", prefix, err)
	}
	defer rows.Close()
	var out []NamedCheckpoint
	for rows.Next() {
		var cp NamedCheckpoint
		var txid uint64
		var pos int64
		if err := rows.Scan(&cp.Name, &txid, &pos, &cp.UpdatedAt); err != nil {
			return nil, fmt.Errorf("pgstore: list checkpoints %q: %w", prefix, err)
		}
		cp.Position = eventstore.Position{Commit: txid, Sequence: uint64(pos)}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list checkpoints %q: %w", prefix, err)
	}
	return out, nil
}

// Load returns the checkpoint called name, or the zero Position if none was
// saved.
func (c *Checkpoints) Load(ctx context.Context, name string) (eventstore.Position, error) {
	if c.err != nil {
		return eventstore.Position{}, c.err
	}
	var txid uint64
	var pos int64
	err := c.db.QueryRow(ctx, c.loadSQL, name).Scan(&txid, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Position{}, nil
	}
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("pgstore: load checkpoint %q: %w", name, err)
	}
	return eventstore.Position{Commit: txid, Sequence: uint64(pos)}, nil
}

// Save stores pos as the checkpoint called name, unless the stored one is
// already later.
func (c *Checkpoints) Save(ctx context.Context, name string, pos eventstore.Position) error {
	if c.err != nil {
		return c.err
	}
	if _, err := c.db.Exec(ctx, c.saveSQL, name, pos.Commit, int64(pos.Sequence)); err != nil {
		return fmt.Errorf("pgstore: save checkpoint %q: %w", name, err)
	}
	return nil
}
