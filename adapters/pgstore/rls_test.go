package pgstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// applicationRole sets up row-level security as docs/tenancy.md says an
// application should run it: a schema migrated by the owner, the policies
// without FORCE, the grants listed there to a role that owns nothing
// (eventfold_app, made by scripts/services.sh), and a pool of at most
// maxConns connections (0: pgx's default) that runs as that role.
func applicationRole(t *testing.T, maxConns int32) (owner, app *pgxpool.Pool, schema string) {
	t.Helper()
	owner, schema = testenv.Schema(t)
	if err := pgstore.Migrate(t.Context(), owner, &pgstore.Options{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.EnableRowLevelSecurity(t.Context(), owner, &pgstore.RowLevelSecurityOptions{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	return owner, grantApplicationRole(t, owner, schema, maxConns), schema
}

// grantApplicationRole grants eventfold_app what docs/tenancy.md lists on
// schema and returns a pool of at most maxConns connections that runs as
// that role.
func grantApplicationRole(t *testing.T, owner *pgxpool.Pool, schema string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	ctx := t.Context()
	var member bool
	err := owner.QueryRow(ctx, "SELECT pg_has_role(current_user, 'eventfold_app', 'MEMBER')").Scan(&member)
	if err == nil && !member {
		err = errors.New("the test role is not a member of eventfold_app")
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL role eventfold_app", err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	for _, grant := range []string{ // docs/tenancy.md, step 2
		"GRANT USAGE ON SCHEMA " + q + " TO eventfold_app",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + q + " TO eventfold_app",
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA " + q + " TO eventfold_app",
		"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA " + q + " TO eventfold_app",
	} {
		if _, err := owner.Exec(ctx, grant); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE eventfold_app")
		return err
	}
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	return app
}

// A schema set up for row-level security before migration 018 gets the
// archive table with the same policy and grants: the application role
// archives and reads its own tenant's archive, and sees no other's.
func TestArchiveAfterUpgradeKeepsRowLevelSecurity(t *testing.T) {
	owner, schema := testenv.Schema(t)
	ctx := t.Context()
	files := copyFS(t, pgstore.SchemaFiles)
	delete(files, "schema/018_stream_archive.sql")
	delete(files, "schema/functions/archive_stream.sql")
	if err := pgstore.MigrateFS(ctx, owner, &pgstore.Options{Schema: schema}, files); err != nil {
		t.Fatal(err)
	}
	// What EnableRowLevelSecurity did before migration 018.
	for _, table := range []string{"streams", "events", "command_keys", "snapshots", "subject_keys", "stream_lifecycle"} {
		tbl := pgx.Identifier{schema, table}.Sanitize()
		for _, sql := range []string{"ALTER TABLE " + tbl + " ENABLE ROW LEVEL SECURITY",
			"CREATE POLICY eventfold_tenant ON " + tbl +
				" USING (tenant_id <> '' AND tenant_id = current_setting('" + pgstore.TenantSetting + "', true))" +
				" WITH CHECK (tenant_id <> '' AND tenant_id = current_setting('" + pgstore.TenantSetting + "', true))"} {
			if _, err := owner.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
	}
	app := grantApplicationRole(t, owner, schema, 1)
	if err := pgstore.Migrate(ctx, owner, &pgstore.Options{Schema: schema}); err != nil {
		t.Fatalf("Migrate to 018 = %v", err)
	}
	s, err := pgstore.New(app, &pgstore.Options{Schema: schema, RowLevelSecurity: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	for _, ts := range []*pgstore.Store{a, b} {
		if _, err := ts.Append(ctx, "acct", eventstore.NoStream, oneEvent(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := ts.ArchiveStream(ctx, "acct", eventstore.Exact(1)); err != nil {
			t.Fatalf("ArchiveStream as the application role after the upgrade = %v", err)
		}
	}
	if got, err := a.ReadArchivedStream(ctx, "acct", 0, 0); err != nil || len(got) != 1 || got[0].Tenant != "a" {
		t.Errorf("tenant a's archive = %+v, %v; want its one event", got, err)
	}
	var n int
	if err := app.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "events_archive"}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a statement without a tenant sees %d archived rows, want 0: the table has no policy", n)
	}
}

// TestRowLevelSecurityClaims checks each claim docs/tenancy.md makes of
// row-level security, as the application role, on a pool of one
// connection so that every statement shares the connection eventfold used.
func TestRowLevelSecurityClaims(t *testing.T) {
	_, app, schema := applicationRole(t, 1)
	ctx := t.Context()
	opts := &pgstore.Options{Schema: schema, RowLevelSecurity: true}
	q := pgx.Identifier{schema}.Sanitize()
	s, err := pgstore.New(app, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustTenant(t, s, "a"), mustTenant(t, s, "b")
	for _, ts := range []*pgstore.Store{a, b} {
		if _, err := ts.Append(ctx, "acct", eventstore.NoStream, oneEvent(1)); err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := pgstore.NewSnapshots(app, opts).ForTenant("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := snaps.Save(ctx, command.Snapshot{StreamID: "acct", Version: 1, SchemaVersion: 1, State: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadStream(ctx, "acct", 0, eventstore.Forward, 0); err != nil {
		t.Fatal(err)
	}

	t.Run("the tenant does not outlive eventfold's statement", func(t *testing.T) {
		// The next statement on the same connection, from code that
		// sets no tenant, sees no tenant, no row, and can write none.
		var tenant *string
		if err := app.QueryRow(ctx, "SELECT current_setting($1, true)", pgstore.TenantSetting).Scan(&tenant); err != nil {
			t.Fatal(err)
		}
		if tenant != nil && *tenant != "" {
			t.Errorf("after tenant a's statements the connection's %s is %q, want unset or empty", pgstore.TenantSetting, *tenant)
		}
		for _, table := range []string{"events", "streams", "snapshots"} {
			var n int
			if err := app.QueryRow(ctx, "SELECT count(*) FROM "+q+"."+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("after tenant a's statements, a statement without a tenant sees %d rows of %s, want 0", n, table)
			}
		}
		_, err := app.Exec(ctx, "INSERT INTO "+q+".streams (tenant_id, stream_id) VALUES ('a', 'forged')")
		if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("a write without a tenant after tenant a's statements: %v, want 42501", err)
		}
	})

	t.Run("in the caller's transaction the tenant lasts until it ends", func(t *testing.T) {
		var inside, after int
		err := pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			ts, err := pgstore.New(tx, opts)
			if err != nil {
				return err
			}
			if _, err := mustTenant(t, ts, "a").Append(ctx, "acct", eventstore.Exact(1), oneEvent(2)); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "SELECT count(*) FROM "+q+".events").Scan(&inside)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := app.QueryRow(ctx, "SELECT count(*) FROM "+q+".events").Scan(&after); err != nil {
			t.Fatal(err)
		}
		if inside != 2 || after != 0 {
			t.Errorf("events seen without setting a tenant: %d later in the transaction (want tenant a's 2), %d after it (want 0)", inside, after)
		}
	})

	t.Run("code that sets the tenant itself gets that tenant's rows", func(t *testing.T) {
		// What row-level security does not stop: the application role may
		// set the setting, so SQL that names a tenant acts as that tenant.
		var n int
		err := pgx.BeginFunc(ctx, app, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config($1, 'b', true)", pgstore.TenantSetting); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "SELECT count(*) FROM "+q+".events WHERE tenant_id = 'b'").Scan(&n)
		})
		if err != nil || n != 1 {
			t.Errorf("SQL that sets tenant b itself sees %d of b's events (%v); want 1: the policy trusts the setting", n, err)
		}
	})
}
