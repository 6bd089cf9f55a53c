package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/eventfold/eventfold/eventstore"
)

// fencedCode is the SQLSTATE of a write refused by a tenant's fence
// (migration 017, function tenant_fenced).
const fencedCode = "EF001"

// fenceLockTimeout bounds how long FenceTenant waits for the writes under
// way on the shard. While it waits, later writes of every tenant on the
// shard queue behind it, so the wait is kept short and retried.
const fenceLockTimeout = "2s"

// fenceAttempts is how often FenceTenant tries before giving up.
const fenceAttempts = 10

// ErrTenantOnTarget is returned by CopyTenant (and MoveTenant) when the
// target shard already holds rows of the tenant that are not an earlier,
// complete copy of the source's.
var ErrTenantOnTarget = errors.New("pgstore: the target shard already holds other data of the tenant")

// fenced turns a write refused by a fence into an error matching
// eventstore.ErrTenantFenced that still unwraps to the *pgconn.PgError.
func fenced(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == fencedCode {
		return fmt.Errorf("pgstore: %s: %w (%w)", pgErr.Message, eventstore.ErrTenantFenced, err)
	}
	return err
}

// IsFenced reports whether err is a write refused because its tenant is
// fenced on the shard, from any call: appends, snapshots, keys.
func IsFenced(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, eventstore.ErrTenantFenced) || (errors.As(err, &pgErr) && pgErr.Code == fencedCode)
}

// FenceTenant makes the shard of s refuse every write of tenant from now
// on: appends, command keys, snapshots and subject keys fail with an error
// matching eventstore.ErrTenantFenced; reads go on. It waits for the writes
// already under way, so once it returns every write of the tenant that
// will ever succeed on this shard has committed. Fencing a fenced tenant
// does nothing. Run it as the tables' owner: it creates triggers.
func FenceTenant(ctx context.Context, s *Store, tenant string) error {
	return setFence(ctx, s, tenant, true)
}

// UnfenceTenant lifts tenant's fence on the shard of s: for a move given
// up before the shard map changed, or for a tenant whose rows were
// removed from a shard it left, once no process can still send it writes
// there.
func UnfenceTenant(ctx context.Context, s *Store, tenant string) error {
	return setFence(ctx, s, tenant, false)
}

func setFence(ctx context.Context, s *Store, tenant string, fence bool) error {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return err
	}
	q := pgx.Identifier{s.opts.Schema}.Sanitize()
	row := "INSERT INTO " + q + ".tenant_fences (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING"
	if !fence {
		row = "DELETE FROM " + q + ".tenant_fences WHERE tenant_id = $1"
	}
	var err error
	for attempt := 0; attempt < fenceAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.raw, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+fenceLockTimeout+"'"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, row, tenant); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "SELECT "+q+".fence_tenant($1, $2, $3)", s.opts.Schema, tenant, fence)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "55P03" && pgErr.Code != "40P01") {
			break // done, or not a lock timeout or deadlock
		}
	}
	if err != nil {
		return fmt.Errorf("pgstore: fence tenant %s: %w", quote(tenant), err)
	}
	return nil
}

// Fenced reports whether tenant is fenced on the shard of s.
func Fenced(ctx context.Context, s *Store, tenant string) (bool, error) {
	var ok bool
	err := s.raw.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{s.opts.Schema}.Sanitize()+
		".tenant_fences WHERE tenant_id = $1)", tenant).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("pgstore: fenced: %w", err)
	}
	return ok, nil
}

// MoveReport tells what a tenant move copied.
type MoveReport struct {
	// Rows copied, by table: events, streams, stream_lifecycle (deletes,
	// truncations, retention, archiving), command_keys, snapshots,
	// subject_keys, events_archive (archived streams' events).
	Rows map[string]int64
	// AlreadyCopied is true when the target held a complete copy from an
	// earlier, interrupted move, and nothing was copied again.
	AlreadyCopied bool
	// AlreadyMoved is true when the shard map named the target already.
	AlreadyMoved bool
}

// MoveTenant moves tenant from the shard of from to the shard of to and
// points m at toShard (to's name in the map): it fences the tenant on the
// source (FenceTenant), copies its rows (CopyTenant), then assigns it to
// toShard. Writes of the tenant fail with eventstore.ErrTenantFenced from
// the fence until the map changes, and succeed on the target after.
//
// Each step is idempotent, so a move interrupted anywhere (the mover
// crashes, a cluster restarts) is finished by calling MoveTenant again
// with the same arguments; until then the tenant stays fenced and nothing
// of it is lost. The source keeps its fenced copy, which still serves
// reads to processes that have not seen the new map.
//
// Positions are per shard: the tenant's events get new positions on the
// target, in the same order. Projections of the tenant must be rebuilt
// from the target's log (see docs/tenancy.md). Run it as the tables'
// owner, as FenceTenant and CopyTenant need.
func MoveTenant(ctx context.Context, tenant string, from, to *Store, m eventstore.ShardAssigner, toShard string) (MoveReport, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return MoveReport{}, err
	}
	current, err := m.ShardOf(ctx, tenant)
	if err != nil {
		return MoveReport{}, err
	}
	if current == toShard {
		// Moved before; keep the source fenced in case the move stopped
		// right after the flip.
		return MoveReport{AlreadyMoved: true}, FenceTenant(ctx, from, tenant)
	}
	if err := FenceTenant(ctx, from, tenant); err != nil {
		return MoveReport{}, err
	}
	rep, err := CopyTenant(ctx, from, to, tenant)
	if err != nil {
		return rep, err
	}
	if err := m.Assign(ctx, tenant, toShard); err != nil {
		return rep, fmt.Errorf("pgstore: move tenant %s: assign it to shard %s: %w", quote(tenant), quote(toShard), err)
	}
	return rep, nil
}

// copiedTables are the tenant-owned tables a move copies, in this order:
// events before command_keys, whose positions are taken from the copied
// events.
var copiedTables = []string{"streams", "events", "stream_lifecycle", "snapshots", "subject_keys", "command_keys", "events_archive"}

// CopyTenant copies every row of tenant (streams, events with their IDs,
// versions and metadata, stream lifecycle state, archived events, command
// keys, snapshots and subject keys) from the shard of from to the shard
// of to, in one transaction on each: the target gets all of it or nothing. The tenant must be fenced on the
// source, so that the copy is final. Events keep their log order and get
// the target's positions; command keys point at the copied events'
// positions. When the target already holds an identical copy of the
// tenant's events it copies nothing and reports AlreadyCopied; when it
// holds anything else of the tenant it fails with ErrTenantOnTarget.
// Both shards must be migrated to the same version. Run it as a role that
// row-level security does not confine (the tables' owner): it reads and
// writes the tenant's rows without setting a tenant.
func CopyTenant(ctx context.Context, from, to *Store, tenant string) (MoveReport, error) {
	rep := MoveReport{Rows: map[string]int64{}}
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return rep, err
	}
	src, err := from.raw.Begin(ctx)
	if err != nil {
		return rep, fmt.Errorf("pgstore: copy tenant: %w", err)
	}
	defer src.Rollback(ctx) //nolint:errcheck // read-only
	if _, err := src.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		return rep, fmt.Errorf("pgstore: copy tenant: %w", err)
	}
	var isFenced bool
	if err := src.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{from.opts.Schema}.Sanitize()+
		".tenant_fences WHERE tenant_id = $1)", tenant).Scan(&isFenced); err != nil {
		return rep, fmt.Errorf("pgstore: copy tenant: %w", err)
	}
	if !isFenced {
		return rep, fmt.Errorf("pgstore: copy tenant %s: it is not fenced on the source: fence it first (FenceTenant), or writes after the copy would be lost", quote(tenant))
	}
	err = pgx.BeginFunc(ctx, to.raw, func(dst pgx.Tx) error {
		done, err := checkTarget(ctx, src, dst, from.opts.Schema, to.opts.Schema, tenant)
		if err != nil || done {
			rep.AlreadyCopied = done
			return err
		}
		for _, table := range copiedTables {
			n, err := copyTable(ctx, src, dst, from.opts.Schema, to.opts.Schema, table, tenant)
			if err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			rep.Rows[table] = n
		}
		same, err := sameEvents(ctx, src, dst, from.opts.Schema, to.opts.Schema, tenant)
		if err == nil && !same {
			err = errors.New("the copied events differ from the source's")
		}
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("pgstore: copy tenant %s: %w", quote(tenant), err)
	}
	return rep, nil
}

// checkTarget reports whether the target already holds the tenant's
// events, identical to the source's (an earlier copy committed), and fails
// when it holds other rows of the tenant.
func checkTarget(ctx context.Context, src, dst pgx.Tx, srcSchema, dstSchema, tenant string) (bool, error) {
	var sv, dv int
	if err := src.QueryRow(ctx, "SELECT max(version) FROM "+pgx.Identifier{srcSchema}.Sanitize()+".schema_migrations").Scan(&sv); err != nil {
		return false, err
	}
	if err := dst.QueryRow(ctx, "SELECT max(version) FROM "+pgx.Identifier{dstSchema}.Sanitize()+".schema_migrations").Scan(&dv); err != nil {
		return false, err
	}
	if sv != dv {
		return false, fmt.Errorf("the source is migrated to version %d and the target to %d: migrate both with the same release", sv, dv)
	}
	q := pgx.Identifier{dstSchema}.Sanitize()
	var rows int64
	for _, table := range copiedTables {
		var n int64
		if err := dst.QueryRow(ctx, "SELECT count(*) FROM "+q+"."+table+" WHERE tenant_id = $1", tenant).Scan(&n); err != nil {
			return false, err
		}
		rows += n
	}
	if rows == 0 {
		return false, nil
	}
	same, err := sameEvents(ctx, src, dst, srcSchema, dstSchema, tenant)
	if err != nil {
		return false, err
	}
	if !same {
		return false, ErrTenantOnTarget
	}
	return true, nil
}

// sameEvents compares the tenant's events on both sides: the same
// (stream, version, event ID) in the same log order.
func sameEvents(ctx context.Context, src, dst pgx.Tx, srcSchema, dstSchema, tenant string) (bool, error) {
	digest := func(tx pgx.Tx, schema string) (string, error) {
		var d string
		err := tx.QueryRow(ctx, "SELECT count(*)::text || ':' || coalesce(md5(string_agg(stream_id || '/' || version || '/' || event_id::text, ',' "+
			"ORDER BY transaction_id, global_position)), '') FROM "+pgx.Identifier{schema}.Sanitize()+".events WHERE tenant_id = $1", tenant).Scan(&d)
		return d, err
	}
	a, err := digest(src, srcSchema)
	if err != nil {
		return false, err
	}
	b, err := digest(dst, dstSchema)
	return a == b, err
}

// copyTable streams the tenant's rows of table from src to dst with COPY
// in text form, so every value arrives exactly as stored.
func copyTable(ctx context.Context, src, dst pgx.Tx, srcSchema, dstSchema, table, tenant string) (int64, error) {
	cols, err := copiedColumns(ctx, dst, dstSchema, table)
	if err != nil {
		return 0, err
	}
	srcTable := pgx.Identifier{srcSchema, table}.Sanitize()
	dstTable := pgx.Identifier{dstSchema, table}.Sanitize()
	list := strings.Join(cols, ", ")
	order := ""
	switch table {
	case "events":
		order = " ORDER BY transaction_id, global_position" // new positions in the same order
	case "command_keys":
		// Staged first: their positions are the target's.
		if _, err := dst.Exec(ctx, "CREATE TEMP TABLE tenant_move_keys (LIKE "+dstTable+") ON COMMIT DROP"); err != nil {
			return 0, err
		}
		dstTable = "tenant_move_keys"
		list = "*"
	}
	sel := "SELECT " + list + " FROM " + srcTable + " WHERE tenant_id = " + literal(tenant) + order
	into := dstTable
	if list != "*" {
		into += " (" + list + ")"
	}
	n, err := pipeCopy(ctx, src, dst, "COPY ("+sel+") TO STDOUT", "COPY "+into+" FROM STDIN")
	if err != nil || table != "command_keys" {
		return n, err
	}
	return insertKeys(ctx, dst, dstSchema, cols)
}

// insertKeys moves the staged command keys into command_keys, each
// pointing at the target's position of the event its append ended with.
func insertKeys(ctx context.Context, dst pgx.Tx, schema string, cols []string) (int64, error) {
	q := pgx.Identifier{schema}.Sanitize()
	var sel []string
	for _, c := range cols {
		switch c {
		case `"transaction_id"`, `"global_position"`: // as copiedColumns quotes them
			sel = append(sel, "CASE WHEN k."+c+" IS NULL THEN NULL ELSE e."+c+" END")
		default:
			sel = append(sel, "k."+c)
		}
	}
	tag, err := dst.Exec(ctx, "INSERT INTO "+q+".command_keys ("+strings.Join(cols, ", ")+") SELECT "+strings.Join(sel, ", ")+
		" FROM tenant_move_keys k LEFT JOIN "+q+".events e ON e.tenant_id = k.tenant_id AND e.stream_id = k.stream_id AND e.version = k.stream_version")
	return tag.RowsAffected(), err
}

// copiedColumns lists the columns of table a copy writes: all but the
// ones the target fills in (an event's position).
func copiedColumns(ctx context.Context, tx pgx.Tx, schema, table string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' AND is_identity = 'NO'
		ORDER BY ordinal_position`, schema, table)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var cols []string
	for _, n := range names {
		if table == "events" && n == "transaction_id" {
			continue
		}
		cols = append(cols, pgx.Identifier{n}.Sanitize())
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no table %s.%s on the target: migrate it", schema, table)
	}
	return cols, nil
}

// pipeCopy runs COPY ... TO STDOUT on src into COPY ... FROM STDIN on dst.
func pipeCopy(ctx context.Context, src, dst pgx.Tx, out, in string) (int64, error) {
	r, w := io.Pipe()
	errs := make(chan error, 1)
	go func() {
		_, err := src.Conn().PgConn().CopyTo(ctx, w, out)
		w.CloseWithError(err)
		errs <- err
	}()
	tag, err := dst.Conn().PgConn().CopyFrom(ctx, r, in)
	r.CloseWithError(errors.New("pgstore: copy ended"))
	if srcErr := <-errs; srcErr != nil && err == nil {
		err = srcErr
	}
	return tag.RowsAffected(), err
}

// literal quotes s as an SQL string literal (standard_conforming_strings
// on, the default since PostgreSQL 9.1).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ShardMap is the tenant → shard map kept in PostgreSQL, in the table
// tenant_shards of one store's schema (the directory; migration 017
// creates the table in every schema). The operator edits it with Assign
// or plain SQL; MoveTenant changes it when a move completes. Every lookup
// is one indexed read, so all processes see a change at once; a process
// that caches lookups is still safe, as a moved tenant's old shard refuses
// its writes (eventstore.ErrTenantFenced).
type ShardMap struct {
	db       DB
	q        string
	fallback string
}

// NewShardMap returns the map kept in db's schema (opts.Schema), which
// sends tenants without a row, and the default tenant, to fallback.
func NewShardMap(db DB, fallback string, opts *Options) (*ShardMap, error) {
	schema, err := schemaOf(opts)
	if err != nil {
		return nil, fmt.Errorf("pgstore: NewShardMap: %w", err)
	}
	if db == nil || fallback == "" {
		return nil, errors.New("pgstore: NewShardMap: needs a db and a fallback shard")
	}
	return &ShardMap{db: db, q: pgx.Identifier{schema}.Sanitize(), fallback: fallback}, nil
}

// ShardOf implements eventstore.ShardMap.
func (m *ShardMap) ShardOf(ctx context.Context, tenant string) (string, error) {
	if tenant == "" {
		return m.fallback, nil
	}
	var shard string
	err := m.db.QueryRow(ctx, "SELECT shard FROM "+m.q+".tenant_shards WHERE tenant_id = $1", tenant).Scan(&shard)
	if errors.Is(err, pgx.ErrNoRows) {
		return m.fallback, nil
	}
	if err != nil {
		return "", fmt.Errorf("pgstore: shard of tenant %s: %w", quote(tenant), err)
	}
	return shard, nil
}

// Assign implements eventstore.ShardAssigner: tenant lives on shard from
// now on. It moves no data: use MoveTenant for a tenant that has some.
func (m *ShardMap) Assign(ctx context.Context, tenant, shard string) error {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return err
	}
	_, err := m.db.Exec(ctx, "INSERT INTO "+m.q+".tenant_shards (tenant_id, shard) VALUES ($1, $2) "+
		"ON CONFLICT (tenant_id) DO UPDATE SET shard = EXCLUDED.shard, updated_at = now()", tenant, shard)
	if err != nil {
		return fmt.Errorf("pgstore: assign tenant %s to shard %s: %w", quote(tenant), quote(shard), err)
	}
	return nil
}

var _ eventstore.ShardAssigner = (*ShardMap)(nil)
