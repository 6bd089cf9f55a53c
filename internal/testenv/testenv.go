package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Defaults used when the environment variables are unset.
const (
	DefaultPostgresURL = "postgres://eventfold:eventfold@127.0.0.1:5432/eventfold?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// PostgresURL returns the PostgreSQL connection string tests use.
func PostgresURL() string { return envOr("EVENTFOLD_TEST_POSTGRES_URL", DefaultPostgresURL) }

// RedisURL returns the Redis connection string tests use.
func RedisURL() string { return envOr("EVENTFOLD_TEST_REDIS_URL", DefaultRedisURL) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Required reports whether a missing service must fail the test.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("EVENTFOLD_REQUIRE_SERVICES") == "1"
}

// Unavailable skips the test because service cannot be reached, or fails
// it when services are required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1).
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1) but unreachable: %v", service, err)
	}
	t.Skipf("%s unreachable, skipping (run scripts/services.sh, or set CI=true to fail instead): %v", service, err)
}

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

// Pool returns a connection pool shared by the tests of one package. It is
// never closed; the process exit closes it.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	poolOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(PostgresURL())
		if err != nil {
			poolErr = err
			return
		}
		cfg.MaxConns = 32
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			err = p.Ping(ctx)
		}
		if err != nil {
			poolErr = err
			if p != nil {
				p.Close()
			}
			return
		}
		pool = p
	})
	if poolErr != nil {
		Unavailable(t, "PostgreSQL", poolErr)
	}
	return pool
}

// Schema creates an empty PostgreSQL schema for one test, drops it when the
// test ends, and returns the shared pool and the schema's name.
func Schema(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	p := Pool(t)
	name := "t_" + strings.ToLower(sanitize(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	name += "_" + randomHex(4)
	ctx := context.Background()
	if _, err := p.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := p.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", name, err)
		}
	})
	return p, name
}

// Redis returns a client for the test Redis server and a key prefix unique to
// the test. Keys under the prefix are deleted when the test ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("EVENTFOLD_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		Unavailable(t, "Redis", err)
	}
	prefix := "test:" + sanitize(t.Name()) + ":" + randomHex(4)
	t.Cleanup(func() {
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, redisGlobEscape(prefix)+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 500 {
				c.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
	})
	return c, prefix
}

func redisGlobEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Eventually calls cond every few milliseconds until it returns true or the
// timeout passes, then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// HoldLog opens a transaction on pool that takes a transaction ID and
// stays open, as a forgotten one would: until end is called (or the test
// ends), no reader of the global log anywhere in the cluster sees events
// committed after it. It returns the transaction's backend process ID.
func HoldLog(t testing.TB, pool *pgxpool.Pool) (pid int, end func()) {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatalf("HoldLog: begin: %v", err)
	}
	var once sync.Once
	end = func() {
		once.Do(func() {
			if err := tx.Rollback(context.Background()); err != nil {
				t.Errorf("HoldLog: rollback: %v", err)
			}
		})
	}
	t.Cleanup(end)
	var xid string
	if err := tx.QueryRow(context.Background(), "SELECT pg_backend_pid(), pg_current_xact_id()::text").Scan(&pid, &xid); err != nil {
		t.Fatalf("HoldLog: take a transaction ID: %v", err)
	}
	return pid, end
}
