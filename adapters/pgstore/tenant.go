package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TenantSetting is the PostgreSQL setting that names the current tenant for
// the row-level security policies EnableRowLevelSecurity creates. With
// Options.RowLevelSecurity on, a Store sets it, local to the transaction,
// before each statement.
const TenantSetting = "eventfold.tenant"

// batcher is what Options.RowLevelSecurity needs of a DB besides DB.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

const setTenantSQL = "SELECT set_config('" + TenantSetting + "', $1, true)"

// scoped runs statements on db. When set is true it sends each statement in
// a batch after set_config of TenantSetting: one round trip, and the
// batch's statements share one (implicit or the caller's) transaction, so
// the setting holds for the statement and ends with the transaction.
type scoped struct {
	db     DB
	tenant string
	set    bool
}

var (
	errNoBatch       = errors.New("pgstore: Options.RowLevelSecurity needs a DB with SendBatch, such as *pgxpool.Pool, *pgx.Conn or pgx.Tx")
	errDefaultTenant = errors.New("pgstore: with Options.RowLevelSecurity the default tenant is out of reach of the policies: use ForTenant")
)

func (d scoped) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	if d.tenant == "" {
		return nil, errDefaultTenant
	}
	bd, ok := d.db.(batcher)
	if !ok {
		return nil, errNoBatch
	}
	b := &pgx.Batch{}
	b.Queue(setTenantSQL, d.tenant)
	b.Queue(sql, args...)
	return bd.SendBatch(ctx, b), nil
}

func (d scoped) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if !d.set {
		return d.db.Query(ctx, sql, args...)
	}
	br, err := d.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return batchRows{Rows: rows, br: br}, nil
}

func (d scoped) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if !d.set {
		return d.db.QueryRow(ctx, sql, args...)
	}
	br, err := d.send(ctx, sql, args)
	return batchRow{br: br, err: err}
}

func (d scoped) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !d.set {
		return d.db.Exec(ctx, sql, args...)
	}
	br, err := d.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return pgconn.CommandTag{}, err
	}
	return br.Exec()
}

// batchRows closes the batch with the rows, releasing its connection.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

type batchRow struct {
	br  pgx.BatchResults
	err error // from send
}

func (r batchRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.br.Close()
	if _, err := r.br.Exec(); err != nil {
		return err
	}
	return r.br.QueryRow().Scan(dest...)
}

// signals wakes in-process tailers after appends: those of the appending
// tenant and those of every tenant (the AllTenants view).
type signals struct {
	mu       sync.Mutex
	all      chan struct{}
	byTenant map[string]chan struct{}
}

func (s *signals) wait(tenant string, all bool) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if all {
		if s.all == nil {
			s.all = make(chan struct{})
		}
		return s.all
	}
	if s.byTenant == nil {
		s.byTenant = make(map[string]chan struct{})
	}
	ch, ok := s.byTenant[tenant]
	if !ok {
		ch = make(chan struct{})
		s.byTenant[tenant] = ch
	}
	return ch
}

// notify wakes the tailers of tenants and of all tenants. Channels are
// made on demand and dropped once closed, so tenants nobody tails cost
// nothing.
func (s *signals) notify(tenants ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.all != nil {
		close(s.all)
		s.all = nil
	}
	for _, t := range tenants {
		if ch, ok := s.byTenant[t]; ok {
			close(ch)
			delete(s.byTenant, t)
		}
	}
}

// tenantTables are the tables whose rows belong to a tenant.
var tenantTables = []string{"streams", "events", "command_keys", "snapshots", "subject_keys", "stream_lifecycle", "events_archive"}

// RowLevelSecurityOptions configures EnableRowLevelSecurity. A nil
// *RowLevelSecurityOptions means all defaults.
type RowLevelSecurityOptions struct {
	// Schema is the schema holding the tables. Default DefaultSchema.
	Schema string
	// Force applies the policies to the tables' owner too (FORCE ROW LEVEL
	// SECURITY), for deployments where the application connects as the
	// owner. Migrate is unaffected, but AllTenants readers then need a
	// role with BYPASSRLS. Off by default.
	Force bool
}

// EnableRowLevelSecurity turns on PostgreSQL row-level security for the
// tenant-owned tables of a schema: streams, events, command_keys, snapshots,
// subject_keys, stream_lifecycle and events_archive. A policy on each lets a role see and write only rows
// whose tenant_id equals the setting TenantSetting, which a Store sets when
// Options.RowLevelSecurity is on. The policies stop SQL that forgets the
// tenant, not SQL that sets one: any code on the connection may set it.
// Where the setting is unset or empty no row is visible and nothing can be
// written: the default tenant ("") is out of
// reach of a role bound by the policies, so under row-level security every
// tenant needs a name. (PostgreSQL reads a custom setting that a session
// once set locally as empty, not unset, so empty cannot stand for the
// default tenant without exposing it to code that forgot to set one.)
//
// Policies bind roles that neither own the tables (unless Force is set)
// nor have BYPASSRLS: run the application as such a role, and Migrate,
// relays and admin tools (AllTenants) as the owner or a role with
// BYPASSRLS. It is idempotent; run it after Migrate, as the tables' owner.
// docs/tenancy.md lists the grants the application's role needs.
func EnableRowLevelSecurity(ctx context.Context, db DB, opts *RowLevelSecurityOptions) error {
	var o RowLevelSecurityOptions
	if opts != nil {
		o = *opts
	}
	schema, err := schemaOf(&Options{Schema: o.Schema})
	if err != nil {
		return fmt.Errorf("pgstore: enable row-level security: %w", err)
	}
	force := "NO FORCE"
	if o.Force {
		force = "FORCE"
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: enable row-level security: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	for _, table := range tenantTables {
		t := pgx.Identifier{schema, table}.Sanitize()
		for _, sql := range []string{
			"ALTER TABLE " + t + " ENABLE ROW LEVEL SECURITY",
			"ALTER TABLE " + t + " " + force + " ROW LEVEL SECURITY",
			"DROP POLICY IF EXISTS eventfold_tenant ON " + t,
			"CREATE POLICY eventfold_tenant ON " + t +
				" USING (tenant_id <> '' AND tenant_id = current_setting('" + TenantSetting + "', true))" +
				" WITH CHECK (tenant_id <> '' AND tenant_id = current_setting('" + TenantSetting + "', true))",
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("pgstore: enable row-level security on %s: %w", table, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: enable row-level security: %w", err)
	}
	return nil
}
