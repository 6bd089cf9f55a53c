package harness

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// EnvOptions configures an Env.
type EnvOptions struct {
	// PostgresURL is the PostgreSQL connection string. Required.
	PostgresURL string
	// RedisURL is the Redis connection string. Required by scenarios that
	// use Redis.
	RedisURL string
	// MaxConns is the size of the shared PostgreSQL pool: at least the
	// largest number of concurrent writers of any scenario. Zero means 20.
	MaxConns int
}

// Env gives scenarios their connections and isolated schemas. Every
// PostgreSQL session runs with synchronous_commit=on. Close drops every
// schema the run created.
type Env struct {
	opts  EnvOptions
	runID string

	mu      sync.Mutex
	pool    *pgxpool.Pool
	rdb     *redis.Client
	schemas []string
}

// NewEnv returns an Env; it connects lazily.
func NewEnv(opts EnvOptions) (*Env, error) {
	if opts.PostgresURL == "" {
		return nil, errors.New("harness: NewEnv: PostgresURL is empty")
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 20
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &Env{opts: opts, runID: hex.EncodeToString(b)}, nil
}

// RunID tells this run apart from others on the same server.
func (e *Env) RunID() string { return e.runID }

// Postgres returns the run's shared connection pool, connecting on first
// use.
func (e *Env) Postgres(ctx context.Context) (*pgxpool.Pool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pool != nil {
		return e.pool, nil
	}
	cfg, err := pgxpool.ParseConfig(e.opts.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("harness: postgres URL: %w", err)
	}
	cfg.MaxConns = int32(e.opts.MaxConns)
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.ConnConfig.RuntimeParams["application_name"] = "eventfold-bench"
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(cctx, cfg)
	if err == nil {
		err = pool.Ping(cctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, fmt.Errorf("harness: connect to PostgreSQL: %w", err)
	}
	e.pool = pool
	return pool, nil
}

// Redis returns the run's Redis client, connecting on first use.
func (e *Env) Redis(ctx context.Context) (*redis.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rdb != nil {
		return e.rdb, nil
	}
	if e.opts.RedisURL == "" {
		return nil, errors.New("harness: no Redis URL")
	}
	o, err := redis.ParseURL(e.opts.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("harness: redis URL: %w", err)
	}
	o.PoolSize = e.opts.MaxConns
	rdb := redis.NewClient(o)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rdb.Ping(cctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("harness: connect to Redis: %w", err)
	}
	e.rdb = rdb
	return rdb, nil
}

// KeyPrefix returns a Redis key prefix unique to this run and name.
func (e *Env) KeyPrefix(name string) string {
	return "eventfold-bench:" + e.runID + ":" + name + ":"
}

// Schema creates an empty PostgreSQL schema for this run, named after name,
// and returns its name. Close drops it.
func (e *Env) Schema(ctx context.Context, name string) (string, error) {
	pool, err := e.Postgres(ctx)
	if err != nil {
		return "", err
	}
	s := "bench_" + e.runID + "_" + strings.ReplaceAll(strings.ToLower(name), "-", "_")
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{s}.Sanitize()); err != nil {
		return "", fmt.Errorf("harness: create schema %s: %w", s, err)
	}
	e.mu.Lock()
	e.schemas = append(e.schemas, s)
	e.mu.Unlock()
	return s, nil
}

// Close drops the run's schemas and closes its connections.
func (e *Env) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, s := range e.schemas {
		if _, err := e.pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
			errs = append(errs, fmt.Errorf("harness: drop schema %s: %w", s, err))
		}
	}
	e.schemas = nil
	if e.pool != nil {
		e.pool.Close()
		e.pool = nil
	}
	if e.rdb != nil {
		if err := e.rdb.Close(); err != nil {
			errs = append(errs, fmt.Errorf("harness: close Redis client: %w", err))
		}
		e.rdb = nil
	}
	return errors.Join(errs...)
}

// Machine describes where a run happened.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model,omitempty"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	OS         string `json:"os"`
	// Postgres is the server's version() string.
	Postgres          string `json:"postgres,omitempty"`
	SynchronousCommit string `json:"synchronous_commit,omitempty"`
	SharedBuffers     string `json:"shared_buffers,omitempty"`
	Redis             string `json:"redis,omitempty"`
}

// Machine reports the client machine and the servers' versions. Servers
// the run has not connected to are left out.
func (e *Env) Machine(ctx context.Context) Machine {
	m := Machine{
		CPUs:       runtime.NumCPU(),
		CPUModel:   cpuModel(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
	}
	e.mu.Lock()
	pool, rdb := e.pool, e.rdb
	e.mu.Unlock()
	if pool != nil {
		_ = pool.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('synchronous_commit'), current_setting('shared_buffers')").
			Scan(&m.Postgres, &m.SynchronousCommit, &m.SharedBuffers)
	}
	if rdb != nil {
		if info, err := rdb.Info(ctx, "server").Result(); err == nil {
			for line := range strings.Lines(info) {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
					m.Redis = v
				}
			}
		}
	}
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
