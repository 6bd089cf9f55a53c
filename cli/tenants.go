package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
)

// directoryFlags locate the tenant → shard map (pgstore.ShardMap).
type directoryFlags struct {
	url, schema, fallback string
}

func (d *directoryFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.url, "directory-url", "", "PostgreSQL connection string of the database holding the shard map (default: --postgres-url)")
	cmd.Flags().StringVar(&d.schema, "directory-schema", "", "schema of the shard map's table tenant_shards (default: --schema)")
	cmd.Flags().StringVar(&d.fallback, "fallback-shard", "", "the shard of tenants the map does not name, as the application's pgstore.NewShardMap has it (required)")
}

// open connects to the directory and returns its map; close the pool.
func (d *directoryFlags) open(ctx context.Context, cfg *config) (*pgstore.ShardMap, *pgxpool.Pool, error) {
	if d.fallback == "" {
		return nil, nil, errors.New("--fallback-shard is required: the shard the application sends unnamed tenants to")
	}
	url, schema := d.url, d.schema
	if url == "" {
		url = cfg.postgresURL
	}
	if schema == "" {
		schema = cfg.schema
	}
	pool, err := openPool(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("directory: %w", err)
	}
	m, err := pgstore.NewShardMap(pool, d.fallback, &pgstore.Options{Schema: schema})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return m, pool, nil
}

func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	c := config{postgresURL: url}
	return c.postgres(ctx)
}

func tenantsCommand(cfg *config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "Tenants sharded over PostgreSQL clusters: where a tenant lives, and moving it",
	}
	cmd.AddCommand(tenantsShardCommand(cfg), tenantsAssignCommand(cfg), tenantsMoveCommand(cfg))
	return cmd
}

func tenantsShardCommand(cfg *config) *cobra.Command {
	var dir directoryFlags
	cmd := &cobra.Command{
		Use:   "shard TENANT",
		Short: "Print the shard the map names for a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, pool, err := dir.open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			shard, err := m.ShardOf(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), shard)
			return nil
		},
	}
	dir.add(cmd)
	return cmd
}

func tenantsAssignCommand(cfg *config) *cobra.Command {
	var dir directoryFlags
	cmd := &cobra.Command{
		Use:   "assign TENANT SHARD",
		Short: "Send a tenant without data to a shard (a tenant with data needs `tenants move`)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, pool, err := dir.open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := m.Assign(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s is on shard %s\n", args[0], args[1])
			return nil
		},
	}
	dir.add(cmd)
	return cmd
}

func tenantsMoveCommand(cfg *config) *cobra.Command {
	var dir directoryFlags
	var toURL, toSchema, toShard string
	cmd := &cobra.Command{
		Use:   "move TENANT",
		Short: "Move a tenant from this store (--postgres-url) to another shard: fence, copy, flip the map (run again to finish an interrupted move)",
		Long: `Move a tenant from the store of --postgres-url and --schema to the store of
--to-url and --to-schema, and point the shard map at --to-shard. The tenant's
writes fail with ErrTenantFenced from the fence until the map changes.
Every step is idempotent: run the same command again to finish a move that
was interrupted. Afterwards, rebuild the tenant's projections from the
target: eventfold projections rebuild NAME --tenant TENANT with the target's
--postgres-url. Run it as the tables' owner on both shards.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if toURL == "" || toShard == "" {
				return errors.New("--to-url and --to-shard are required")
			}
			if toSchema == "" {
				toSchema = cfg.schema
			}
			return moveTenant(cmd, cfg, &dir, args[0], toURL, toSchema, toShard)
		},
	}
	dir.add(cmd)
	cmd.Flags().StringVar(&toURL, "to-url", "", "PostgreSQL connection string of the target shard (required)")
	cmd.Flags().StringVar(&toSchema, "to-schema", "", "schema of the target shard's event store (default: --schema)")
	cmd.Flags().StringVar(&toShard, "to-shard", "", "the target shard's name in the map (required)")
	return cmd
}

func moveTenant(cmd *cobra.Command, cfg *config, dir *directoryFlags, tenant, toURL, toSchema, toShard string) error {
	ctx := cmd.Context()
	m, dirPool, err := dir.open(ctx, cfg)
	if err != nil {
		return err
	}
	defer dirPool.Close()
	srcPool, err := cfg.postgres(ctx)
	if err != nil {
		return err
	}
	defer srcPool.Close()
	dstPool, err := openPool(ctx, toURL)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dstPool.Close()
	from, err := pgstore.New(srcPool, &pgstore.Options{Schema: cfg.schema})
	if err != nil {
		return err
	}
	to, err := pgstore.New(dstPool, &pgstore.Options{Schema: toSchema})
	if err != nil {
		return err
	}
	rep, err := pgstore.MoveTenant(ctx, tenant, from, to, m, toShard)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	switch {
	case rep.AlreadyMoved:
		fmt.Fprintf(out, "tenant %s was already on shard %s; it stays fenced on the source\n", tenant, toShard)
		return nil
	case rep.AlreadyCopied:
		fmt.Fprintf(out, "tenant %s was copied by an earlier run; ", tenant)
	default:
		var parts []string
		for _, table := range slices.Sorted(maps.Keys(rep.Rows)) {
			parts = append(parts, fmt.Sprintf("%s %d", table, rep.Rows[table]))
		}
		fmt.Fprintf(out, "copied tenant %s (%s); ", tenant, strings.Join(parts, ", "))
	}
	fmt.Fprintf(out, "it is now on shard %s. Rebuild its projections from the target (eventfold projections rebuild NAME --tenant %s).\n", toShard, tenant)
	return nil
}
