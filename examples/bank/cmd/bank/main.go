// Command bank runs eventfold's example bank.
//
// With no flags it runs everything in one process, the HTTP API on :8080,
// the projections and the transfer process manager, against the local
// PostgreSQL and Redis:
//
//	cd examples && go run ./bank/cmd/bank
//
// With -demo it instead starts the bank on a random port, in a fresh schema
// and Redis prefix, plays a short scripted session of commands and queries,
// printing every request and response, and exits:
//
//	cd examples && go run ./bank/cmd/bank -demo
//
// Split over NATS JetStream, run one process per part, with the same
// -schema, -prefix and -topic:
//
//	go run ./bank/cmd/bank -mode=relay
//	go run ./bank/cmd/bank -mode=projector
//	go run ./bank/cmd/bank -mode=api -addr=:8080
//
// Every flag can also be set through the environment variable named in its
// help text.
//
// With a subcommand, it is the bank's operational command line (package
// eventfold/cli) with the bank's projections compiled in, defaulting to the
// bank's schema and Redis prefix:
//
//	go run ./bank/cmd/bank worker                       run the projections
//	go run ./bank/cmd/bank projections status accounts
//	go run ./bank/cmd/bank projections rebuild accounts
//	go run ./bank/cmd/bank projections skip accounts    resume a faulted one
//	go run ./bank/cmd/bank --help                       all the commands
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eventfold/eventfold/cli"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/examples/bank/app"
	"github.com/eventfold/eventfold/examples/bank/domain"
	"github.com/eventfold/eventfold/projection"
)

// opsOptions mounts the operational command line with the bank's
// projections, process manager and event registry.
func opsOptions() (cli.Options, error) {
	reg, err := domain.NewRegistry()
	if err != nil {
		return cli.Options{}, err
	}
	return cli.Options{
		Use:   "bank",
		Short: "Operate eventfold's example bank (with no subcommand it serves the bank; -h lists its flags)",
		Defaults: cli.Defaults{PostgresURL: app.DefaultPostgresURL, Schema: app.DefaultSchema,
			RedisURL: app.DefaultRedisURL, RedisPrefix: app.DefaultRedisPrefix, NATSURL: app.DefaultNATSURL},
		Projections: func(ctx context.Context, deps cli.Deps) ([]projection.Config, error) {
			return app.Projections(deps.Logger)
		},
		Processes: func(ctx context.Context, deps cli.Deps) ([]*command.Process, error) {
			return app.Processes(deps.Pool, deps.Schema, deps.Events, deps.Logger)
		},
		Registry: reg, // streams show and the console show events upcast
	}, nil
}

func main() {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		opts, err := opsOptions()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bank:", err)
			os.Exit(1)
		}
		cli.Main(opts)
		return
	}
	cfg, addr, demo := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if demo {
		err = runDemo(ctx, cfg, os.Stdout)
	} else {
		err = serve(ctx, cfg, addr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bank:", err)
		os.Exit(1)
	}
}

func parseFlags() (cfg app.Config, addr string, demo bool) {
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	flag.StringVar(&cfg.Mode, "mode", env("BANK_MODE", app.ModeAll), "what to run: all, api, projector or relay (BANK_MODE)")
	flag.StringVar(&addr, "addr", env("BANK_ADDR", "127.0.0.1:8080"), "HTTP listen address of the API (BANK_ADDR)")
	// Help shows the defaults of connection strings without a password:
	// one from the environment as the variable's name, any other redacted.
	connFlag := func(dst *string, name, envName, def, usage string) {
		flag.StringVar(dst, name, env(envName, def), usage+" ("+envName+")")
		if os.Getenv(envName) != "" {
			flag.Lookup(name).DefValue = "$" + envName
		} else {
			flag.Lookup(name).DefValue = cli.Redact(def)
		}
	}
	connFlag(&cfg.PostgresURL, "postgres", "EVENTFOLD_POSTGRES_URL", app.DefaultPostgresURL, "PostgreSQL URL or key/value connection string")
	connFlag(&cfg.RedisURL, "redis", "EVENTFOLD_REDIS_URL", app.DefaultRedisURL, "Redis URL")
	connFlag(&cfg.NATSURL, "nats", "EVENTFOLD_NATS_URL", app.DefaultNATSURL, "NATS URL, for -mode=relay and -mode=projector")
	flag.StringVar(&cfg.Schema, "schema", env("BANK_SCHEMA", app.DefaultSchema), "PostgreSQL schema of the event store (BANK_SCHEMA)")
	flag.StringVar(&cfg.RedisPrefix, "prefix", env("BANK_REDIS_PREFIX", app.DefaultRedisPrefix), "prefix of the read models' Redis keys (BANK_REDIS_PREFIX)")
	flag.StringVar(&cfg.Topic, "topic", env("BANK_TOPIC", app.DefaultTopic), "JetStream stream carrying the events (BANK_TOPIC)")
	flag.DurationVar(&cfg.Wait, "wait", 5*time.Second, "how long a query waits for a consistency token")
	flag.BoolVar(&demo, "demo", false, "play a scripted session against a fresh bank and exit")
	flag.Parse()
	level := slog.LevelInfo // one line per command
	if demo {
		level = slog.LevelWarn // keep the session readable
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return cfg, addr, demo
}

// serve runs the process until ctx ends.
func serve(ctx context.Context, cfg app.Config, addr string) error {
	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	errc := make(chan error, 2)
	go func() { errc <- a.Run(ctx) }()
	if h := a.Handler(); h != nil {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		srv := newServer(h, cfg.Wait)
		go func() { errc <- srv.Serve(ln) }()
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		}()
		cfg.Logger.Info("bank API listening", "addr", ln.Addr().String(), "mode", cfg.Mode)
	} else {
		cfg.Logger.Info("bank running", "mode", cfg.Mode)
	}
	// Run lasts until ctx ends, in every mode; the server until Shutdown.
	// Whichever ends first, with an error, ends the process.
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
	}
	return nil
}

// newServer returns the API's server. Every phase of a connection has a
// deadline, so slow or idle clients cannot hold connections forever; a
// response may take as long as a query waits for a consistency token
// (wait), and then some.
func newServer(h http.Handler, wait time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      max(wait, 5*time.Second) + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
