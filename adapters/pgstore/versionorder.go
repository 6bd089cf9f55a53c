package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EnforceVersionOrder makes the events table itself keep each stream's
// versions contiguous and in log order, whoever writes to it: after it, a
// plain INSERT (a migration tool, a data fix) of a version whose
// predecessor is not stored, or of version 0, fails with SQLSTATE 23514
// naming the missing version, and one from a transaction that took its ID
// before the predecessor's writer fails with 40001. eventfold's own appends
// keep that order without it; the check (a row trigger of migration 012,
// created disabled) costs each append about a third more server CPU, so
// turn it on where other tools write to the table. It is idempotent and
// lasts until the trigger is disabled again (ALTER TABLE ... DISABLE
// TRIGGER events_version_order). Migrate must have run.
func EnforceVersionOrder(ctx context.Context, db DB, opts *Options) error {
	schema, err := schemaOf(opts)
	if err != nil {
		return fmt.Errorf("pgstore: enforce version order: %w", err)
	}
	sql := "ALTER TABLE " + pgx.Identifier{schema, "events"}.Sanitize() + " ENABLE TRIGGER events_version_order"
	if _, err := db.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgstore: enforce version order: %w", err)
	}
	return nil
}
