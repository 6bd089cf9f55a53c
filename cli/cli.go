package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// config holds the connection settings shared by the subcommands. Each comes
// from its flag, else its environment variable, else the default.
type config struct {
	opts                  Options
	postgresURL, schema   string
	postgresReplicaURL    string
	redisURL, redisPrefix string
	natsURL               string
	logLevel, logFormat   string
}

// setting describes one shared flag and its environment variable.
type setting struct {
	flag, env, def, usage string
	dst                   func(*config) *string
}

var settings = []setting{
	{"postgres-url", "EVENTFOLD_POSTGRES_URL", "postgres://eventfold:eventfold@127.0.0.1:5432/eventfold", "PostgreSQL connection string", func(c *config) *string { return &c.postgresURL }},
	{"postgres-replica-url", "EVENTFOLD_POSTGRES_REPLICA_URL", "", "PostgreSQL hot standby of --postgres-url that relay, worker and console read the log from (empty: the primary; see docs/scaling.md)", func(c *config) *string { return &c.postgresReplicaURL }},
	{"schema", "EVENTFOLD_SCHEMA", pgstore.DefaultSchema, "PostgreSQL schema of the event store", func(c *config) *string { return &c.schema }},
	{"redis-url", "EVENTFOLD_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis connection string (read models)", func(c *config) *string { return &c.redisURL }},
	{"redis-prefix", "EVENTFOLD_REDIS_PREFIX", "", "key prefix of the read models (redisstore.Options.Prefix; empty means its default)", func(c *config) *string { return &c.redisPrefix }},
	{"nats-url", "EVENTFOLD_NATS_URL", "nats://127.0.0.1:4222", "NATS URL (relay)", func(c *config) *string { return &c.natsURL }},
	{"log-level", "EVENTFOLD_LOG_LEVEL", "", "debug, info, warn or error (default: info, warn for rebuild)", func(c *config) *string { return &c.logLevel }},
	{"log-format", "EVENTFOLD_LOG_FORMAT", "text", "text or json", func(c *config) *string { return &c.logFormat }},
}

// Options configures the command line. The zero value gives the generic
// commands of the eventfold binary, which has no projections compiled in.
type Options struct {
	// Use names the root command in help text. Default "eventfold".
	Use string
	// Short describes the root command. Default: a description of the
	// operational commands.
	Short string
	// Projections returns the application's projections, built over the
	// connections the command opened (the application may need the event
	// store, for a process manager, say). The worker runs them, rebuild
	// rebuilds one of them. Nil means the binary has none.
	Projections func(ctx context.Context, deps Deps) ([]projection.Config, error)
	// Processes returns the application's process managers, built over
	// the connections the command opened. The worker runs them beside the
	// projections (unless --only names projections alone); each takes its
	// own lease, so running many workers runs each process once. Nil means
	// none.
	Processes func(ctx context.Context, deps Deps) ([]*command.Process, error)
	// Registry is the application's event registry. With it, streams show
	// and the console show events as deciders and projections read them:
	// brought to the current schema version by its upcasters, still
	// encoded, so fields a ShreddingCodec sealed stay sealed. Nil shows
	// events as stored.
	Registry *command.Registry
	// Commands are added to the root command beside the built-in ones (the
	// eventfold binary adds its scaffolder this way).
	Commands []*cobra.Command
	// Defaults replace the built-in defaults of the connection flags;
	// flags and environment variables still win.
	Defaults Defaults
	// Stdout and Stderr default to os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Stdin answers confirmations (streams delete --hard). Default
	// os.Stdin.
	Stdin io.Reader
}

// Defaults are an application's own defaults for the connection flags.
// Empty fields keep the built-in ones.
type Defaults struct {
	PostgresURL, Schema, RedisURL, RedisPrefix, NATSURL string
}

func (d Defaults) of(flag string) string {
	return map[string]string{"postgres-url": d.PostgresURL, "schema": d.Schema, "redis-url": d.RedisURL,
		"redis-prefix": d.RedisPrefix, "nats-url": d.NATSURL}[flag]
}

// builtins are the subcommands every binary gets. A new operational command
// is one more entry.
var builtins = []func(*config) *cobra.Command{
	migrateCommand,
	streamsCommand,
	projectionsCommand,
	relayCommand,
	workerCommand,
	consoleCommand,
	horizonCommand,
	processesCommand,
}

// Command returns the root command: the built-in subcommands and
// opts.Commands, with the connection flags shared by all of them. Run it
// with ExecuteContext, or use Execute.
func Command(opts Options) *cobra.Command {
	cfg := &config{opts: opts}
	if opts.Use == "" {
		opts.Use = "eventfold"
	}
	if opts.Short == "" {
		opts.Short = "Operate an eventfold application"
	}
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	root := &cobra.Command{
		Use:           opts.Use,
		Short:         opts.Short,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	if opts.Stdin != nil {
		root.SetIn(opts.Stdin)
	}
	for _, s := range settings {
		def, fromEnv := s.def, false
		if v := opts.Defaults.of(s.flag); v != "" {
			def = v
		}
		if v := os.Getenv(s.env); v != "" {
			def, fromEnv = v, true
		}
		root.PersistentFlags().StringVar(s.dst(cfg), s.flag, def, s.usage+" (env "+s.env+")")
		// Help shows defaults: never a password, whether from the
		// environment or from the application's Defaults.
		if fromEnv {
			root.PersistentFlags().Lookup(s.flag).DefValue = "$" + s.env
		} else {
			root.PersistentFlags().Lookup(s.flag).DefValue = Redact(def)
		}
	}
	for _, b := range builtins {
		root.AddCommand(b(cfg))
	}
	root.AddCommand(opts.Commands...)
	return root
}

// Execute runs the command line with args (without the program name) until
// it ends or ctx is cancelled.
func Execute(ctx context.Context, args []string, opts Options) error {
	root := Command(opts)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// Main runs the command line with the program's arguments, stops it on
// SIGINT or SIGTERM, and exits with status 2 after printing an error. An
// application's main can be just a call to Main.
func Main(opts Options) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Execute(ctx, os.Args[1:], opts)
	stop()
	if err != nil {
		name := opts.Use
		if name == "" {
			name = filepath.Base(os.Args[0])
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
}

// Deps are the connections the command line opened, for
// Options.Projections.
type Deps struct {
	// Pool is the PostgreSQL pool of the event store.
	Pool *pgxpool.Pool
	// Events is the event store.
	Events *pgstore.Store
	// Log is what projections read the global log from: Events, or a
	// pgstore.Replica of it when --postgres-replica-url names a hot
	// standby. The worker gives Configs without a Source a LogSource of it.
	Log eventstore.Store
	// Schema is the event store's PostgreSQL schema (--schema), for the
	// application's own pgstore values (checkpoints, leases).
	Schema string
	// ReadModels is the read-model store (Redis).
	ReadModels readmodel.Store
	// Logger is the command's logger.
	Logger *slog.Logger
}

func migrateCommand(cfg *config) *cobra.Command {
	var correlationIndex, versionOrder bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the event store's tables (idempotent, safe from many processes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := cfg.postgres(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			opts := &pgstore.Options{Schema: cfg.schema}
			if err := pgstore.Migrate(cmd.Context(), pool, opts); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema %s is up to date\n", cfg.schema)
			if correlationIndex {
				if err := pgstore.CreateCorrelationIndex(cmd.Context(), pool, opts); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "events are indexed by correlation ID\n")
			}
			if versionOrder {
				if err := pgstore.EnforceVersionOrder(cmd.Context(), pool, opts); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "the events table refuses versions out of order, whoever writes them\n")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&correlationIndex, "correlation-index", false,
		"also index the events by correlation ID, for the console's correlation search (each append then costs one more index insert)")
	cmd.Flags().BoolVar(&versionOrder, "enforce-version-order", false,
		"also make the events table refuse a stream's versions out of order from any writer, such as a migration tool (each append then costs about a third more server CPU)")
	return cmd
}

func (c *config) postgres(ctx context.Context) (*pgxpool.Pool, error) {
	return c.postgresSized(ctx, 0)
}

// postgresSized opens a pool of at most maxConns connections (0: pgx's
// default, or the URL's pool_max_conns).
func (c *config) postgresSized(ctx context.Context, maxConns int32) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(c.postgresURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if maxConns > 0 {
		pcfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
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
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // a *url.Error quotes the whole URL, password included
		}
		return nil, nil, fmt.Errorf("redis URL %s: %w", Redact(c.redisURL), err)
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

// logger returns a logger writing to the command's standard error at the
// --log-level, else at def.
func (c *config) logger(cmd *cobra.Command, def slog.Level) (*slog.Logger, error) {
	level := def
	if c.logLevel != "" {
		if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
			return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "", "text":
		return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", c.logFormat)
}

// deps opens the event store and the read-model store.
func (c *config) deps(ctx context.Context, logger *slog.Logger) (Deps, func(), error) {
	pool, err := c.postgres(ctx)
	if err != nil {
		return Deps{}, nil, err
	}
	events, err := pgstore.New(pool, &pgstore.Options{Schema: c.schema})
	if err != nil {
		pool.Close()
		return Deps{}, nil, err
	}
	replica, closeReplica, err := c.replica(ctx, events, logger)
	if err != nil {
		pool.Close()
		return Deps{}, nil, err
	}
	var log eventstore.Store = events
	if replica != nil {
		log = replica
	}
	rm, closeRM, err := c.readModels(ctx)
	if err != nil {
		closeReplica()
		pool.Close()
		return Deps{}, nil, err
	}
	return Deps{Pool: pool, Events: events, Log: log, Schema: c.schema, ReadModels: rm, Logger: logger},
		func() { closeRM(); closeReplica(); pool.Close() }, nil
}

// replica returns a Replica of store on the --postgres-replica-url
// standby, or nil when none is set. The close function closes its pool.
func (c *config) replica(ctx context.Context, store *pgstore.Store, logger *slog.Logger) (*pgstore.Replica, func(), error) {
	if c.postgresReplicaURL == "" {
		return nil, func() {}, nil
	}
	pool, err := pgxpool.New(ctx, c.postgresReplicaURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--postgres-replica-url: %w", err)
	}
	r, err := store.WithReplica(pool, &pgstore.ReplicaOptions{Logger: logger})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return r, pool.Close, nil
}
