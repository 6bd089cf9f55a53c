package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
)

// config holds the connection settings shared by the subcommands. Each comes
// from its flag, else its environment variable, else the default.
type config struct {
	postgresURL, schema   string
	redisURL, redisPrefix string
	natsURL               string
}

// setting describes one shared flag and its environment variable.
type setting struct {
	flag, env, def, usage string
	dst                   func(*config) *string
}

var settings = []setting{
	{"postgres-url", "EVENTFOLD_POSTGRES_URL", "postgres://eventfold:eventfold@127.0.0.1:5432/eventfold", "PostgreSQL connection string", func(c *config) *string { return &c.postgresURL }},
	{"schema", "EVENTFOLD_SCHEMA", pgstore.DefaultSchema, "PostgreSQL schema of the event store", func(c *config) *string { return &c.schema }},
	{"redis-url", "EVENTFOLD_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis connection string (read models)", func(c *config) *string { return &c.redisURL }},
	{"redis-prefix", "EVENTFOLD_REDIS_PREFIX", "", "key prefix of the read models (redisstore.Options.Prefix; empty means its default)", func(c *config) *string { return &c.redisPrefix }},
	{"nats-url", "EVENTFOLD_NATS_URL", "nats://127.0.0.1:4222", "NATS URL (relay)", func(c *config) *string { return &c.natsURL }},
}

// execute runs the eventfold command line with args (without the program
// name).
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	root := &cobra.Command{
		Use:           "eventfold",
		Short:         "Scaffold and operate eventfold applications",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	for _, s := range settings {
		def, fromEnv := s.def, false
		if v := os.Getenv(s.env); v != "" {
			def, fromEnv = v, true
		}
		root.PersistentFlags().StringVar(s.dst(&cfg), s.flag, def, s.usage+" (env "+s.env+")")
		if fromEnv { // never print a password taken from the environment
			root.PersistentFlags().Lookup(s.flag).DefValue = "$" + s.env
		}
	}
	root.AddCommand(
		newCommand(stdout, stderr),
		migrateCommand(&cfg),
		streamsCommand(&cfg),
		projectionsCommand(&cfg),
		relayCommand(&cfg),
	)
	return root.ExecuteContext(ctx)
}

// newCommand hands its arguments to the scaffolder, which parses its own
// flags (and keeps accepting them before and after the module path).
func newCommand(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:                "new <module path> [--aggregate Name] [--dir path] [--replace path] [--no-tidy]",
		Short:              "Scaffold a tested application",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" {
					return cmd.Help()
				}
			}
			return run(append([]string{"new"}, args...), stdout, stderr)
		},
	}
}

func migrateCommand(cfg *config) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the event store's tables (idempotent, safe from many processes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := cfg.postgres(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := pgstore.Migrate(cmd.Context(), pool, &pgstore.Options{Schema: cfg.schema}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema %s is up to date\n", cfg.schema)
			return nil
		},
	}
}

func (c *config) postgres(ctx context.Context) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, c.postgresURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pool, nil
}

func (c *config) store(ctx context.Context) (*pgstore.Store, func(), error) {
	pool, err := c.postgres(ctx)
	if err != nil {
		return nil, nil, err
	}
	s, err := pgstore.New(pool, &pgstore.Options{Schema: c.schema})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return s, pool.Close, nil
}

func (c *config) readModels(ctx context.Context) (*redisstore.Store, func(), error) {
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("redis %s: %w", opts.Addr, err)
	}
	s, err := redisstore.New(client, &redisstore.Options{Prefix: c.redisPrefix})
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return s, func() { client.Close() }, nil
}

var errUsage = errors.New("bad usage")
