package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// errNoProjections is what the commands that run projection code say in a
// binary that has none, such as the generic eventfold binary.
var errNoProjections = errors.New("this binary has no projections; mount package cli in your application: see docs/operations.md")

func workerCommand(cfg *config) *cobra.Command {
	var only []string
	var healthListen string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the application's projections and process managers until interrupted",
		Long: `Run the application's projections (all of them, or those named by --only)
until SIGINT or SIGTERM, then stop them cleanly. Each runs as a
projection.Group: the partitions are shared among the workers running it,
through PostgreSQL advisory locks, and taken over when a worker goes away, so
run as many workers as you like. A worker keeps following the read model
through rebuilds ("projections rebuild"), and a faulted projection in it
answers "projections retry|skip" from any machine. The application's process
managers run beside them (not with --only), each under its own lease, so each
runs in one worker at a time.

--health-listen serves GET /healthz for a liveness or readiness probe:
200 while every partition this worker holds is healthy, 503 (with the
reasons, as JSON) when one is faulted, stopped, unable to reach its
read-model store or the log for 30 seconds, or behind the head without
applying anything for a minute.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			deps, configs, closeDeps, err := cfg.openProjections(cmd, slog.LevelInfo, only)
			if err != nil {
				return err
			}
			defer closeDeps()
			// Every lease holds a connection: give them a pool of their own,
			// large enough for all (a membership, the partitions, and a
			// probe of the other members, per projection).
			leases := 2
			for _, c := range configs {
				leases += 2 + max(c.Partitions, 1)
			}
			leasePool, err := cfg.postgresSized(ctx, int32(leases))
			if err != nil {
				return err
			}
			defer leasePool.Close()
			leaser := Leaser(leasePool, cfg.schema, cfg.redisURL, cfg.redisPrefix)
			var processes []*command.Process
			if cfg.opts.Processes != nil && len(only) == 0 {
				if processes, err = cfg.opts.Processes(ctx, deps); err != nil {
					return err
				}
			}
			return runWorker(ctx, deps, leaser, configs, processes, healthListen)
		},
	}
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these projections (comma-separated or repeated)")
	cmd.Flags().StringVar(&healthListen, "health-listen", "", "serve GET /healthz on this address, for example 127.0.0.1:8081 (empty: none)")
	return cmd
}

// runWorker runs a Group per projection and the process managers until
// ctx ends, and serves the projections' health on healthListen unless it
// is empty.
func runWorker(ctx context.Context, deps Deps, leaser projection.Leaser, configs []projection.Config, processes []*command.Process, healthListen string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(configs)+len(processes))
	for i, p := range processes {
		wg.Go(func() {
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				errs[len(configs)+i] = fmt.Errorf("process %s: %w", p.Name(), err)
				cancel()
			}
		})
	}
	var names []string
	var groups []*projection.Group
	for i, c := range configs {
		c.Partitions = max(c.Partitions, 1)
		g, err := projection.NewGroup(projection.GroupConfig{Config: c, Leaser: leaser})
		if err != nil {
			return fmt.Errorf("projection %s: %w", c.Projection.Name(), err)
		}
		names = append(names, c.Projection.Name()+"@"+c.Projection.Version())
		groups = append(groups, g)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.Run(ctx)
			switch {
			case err == nil, ctx.Err() != nil:
			case errors.Is(err, projection.ErrRetired):
				// A newer version serves now (a blue-green switch): this
				// one is done, and the others go on.
				deps.Logger.Info("projection retired: a newer version is active", "projection", c.Projection.Name(), "version", c.Projection.Version())
			default:
				errs[i] = fmt.Errorf("projection %s: %w", c.Projection.Name(), err)
				cancel() // one worker, one fate: let the supervisor restart it
			}
		}()
	}
	if healthListen != "" {
		stop, err := serveHealth(ctx, healthListen, groups)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		defer stop()
	}
	var processNames []string
	for _, p := range processes {
		processNames = append(processNames, p.Name())
	}
	deps.Logger.Info("worker started", "projections", strings.Join(names, ","), "processes", strings.Join(processNames, ","), "health", healthListen)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	deps.Logger.Info("worker stopped")
	return nil
}

// projections returns the application's projections with the command's
// connections filled in where the application left them out, only those
// named when names is not empty.
// openProjections opens the connections and builds the application's
// projections named by names (all when empty), logging at level unless
// the flags say otherwise. closeDeps closes the connections.
func (c *config) openProjections(cmd *cobra.Command, level slog.Level, names []string) (_ Deps, _ []projection.Config, closeDeps func(), _ error) {
	if c.opts.Projections == nil {
		return Deps{}, nil, nil, errNoProjections
	}
	logger, err := c.logger(cmd, level)
	if err != nil {
		return Deps{}, nil, nil, err
	}
	deps, closeDeps, err := c.deps(cmd.Context(), logger)
	if err != nil {
		return Deps{}, nil, nil, err
	}
	configs, err := c.projections(cmd.Context(), deps, names)
	if err != nil {
		closeDeps()
		return Deps{}, nil, nil, err
	}
	return deps, configs, closeDeps, nil
}

func (c *config) projections(ctx context.Context, deps Deps, names []string) ([]projection.Config, error) {
	all, err := c.opts.Projections(ctx, deps)
	if err != nil {
		return nil, err
	}
	var known []string
	var out []projection.Config
	for _, pc := range all {
		if pc.Projection == nil {
			return nil, errors.New("Options.Projections returned a Config without a Projection")
		}
		known = append(known, pc.Projection.Name())
		if len(names) > 0 && !slices.Contains(names, pc.Projection.Name()) {
			continue
		}
		if pc.Source == nil {
			pc.Source = projection.LogSource(deps.Log, nil)
		}
		if pc.Store == nil {
			pc.Store = deps.ReadModels
		}
		if pc.Logger == nil {
			pc.Logger = deps.Logger
		}
		out = append(out, pc)
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("no projection named %q in this binary (it has %s)", n, strings.Join(known, ", "))
		}
	}
	if len(out) == 0 {
		return nil, errNoProjections
	}
	return out, nil
}

// Leaser returns the projection.Leaser the worker command runs its Groups
// with, over PostgreSQL advisory locks taken through pool (give it a pool of
// its own: every lease holds a connection). An application that runs
// projection.Groups in its own processes uses it with the same schema,
// Redis URL and prefix, so that its replicas and workers share the
// partitions. Advisory locks are per database, so the leases are scoped to
// the read models they guard: processes of other schemas or prefixes
// sharing the database do not wait for each other.
func Leaser(pool *pgxpool.Pool, schema, redisURL, redisPrefix string) projection.Leaser {
	// The scope shows up in lock errors: no password in it.
	return scopedLeaser{pgstore.NewLocker(pool, nil), schema + "|" + Redact(redisURL) + "|" + redisPrefix + "|"}
}

// scopedLeaser prefixes every lease name with scope.
type scopedLeaser struct {
	projection.Leaser
	scope string
}

func (l scopedLeaser) TryLock(ctx context.Context, name string) (context.Context, func(), bool, error) {
	return l.Leaser.TryLock(ctx, l.scope+name)
}

// serveHealth serves GET /healthz on addr, judging the partitions the
// groups hold, until stop is called.
func serveHealth(ctx context.Context, addr string, groups []*projection.Group) (stop func(), _ error) {
	check, err := projectionops.NewHealthCheck(func() []projection.Status {
		var all []projection.Status
		for _, g := range groups {
			all = append(all, g.Status()...)
		}
		return all
	}, nil)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--health-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", check)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ends with ErrServerClosed when stopped
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // a probe that does not finish in 5 s is dropped
		<-done
	}, nil
}
