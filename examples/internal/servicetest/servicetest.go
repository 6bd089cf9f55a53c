package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// Defaults used when the environment variables are unset.
const (
	DefaultPostgresURL = "postgres://eventfold:eventfold@127.0.0.1:5432/eventfold?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultNATSURL     = "nats://127.0.0.1:4222"
)

// PostgresURL returns the PostgreSQL URL tests use.
func PostgresURL() string { return envOr("EVENTFOLD_TEST_POSTGRES_URL", DefaultPostgresURL) }

// RedisURL returns the Redis URL tests use.
func RedisURL() string { return envOr("EVENTFOLD_TEST_REDIS_URL", DefaultRedisURL) }

// NATSURL returns the NATS URL tests use.
func NATSURL() string { return envOr("EVENTFOLD_TEST_NATS_URL", DefaultNATSURL) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Required reports whether an unreachable service must fail the test.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("EVENTFOLD_REQUIRE_SERVICES") == "1"
}

// Unavailable fails the test when services are required, and skips it
// otherwise.
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1) but unreachable: %v", service, err)
	}
	t.Skipf("%s unreachable, skipping (run scripts/services.sh, or set CI=true to fail instead): %v", service, err)
}

// Name returns a name unique to the test, made of lowercase letters, digits
// and '_', at most 40 bytes long: usable as a schema, a key prefix or a
// stream name.
func Name(t testing.TB) string {
	n := strings.ToLower(nonWord.ReplaceAllString(t.Name(), "_"))
	if len(n) > 28 {
		n = n[:28]
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "t_" + n + "_" + hex.EncodeToString(b)
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// Postgres checks that PostgreSQL is reachable and returns a schema name for
// the test; the schema, if created, is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, PostgresURL())
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		Unavailable(t, "PostgreSQL", err)
	}
	schema := Name(t)
	t.Cleanup(func() {
		defer pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// Redis checks that Redis is reachable and returns a key prefix for the
// test; its keys are deleted when the test ends.
func Redis(t testing.TB) string {
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
	prefix := Name(t) + ":"
	t.Cleanup(func() {
		defer c.Close()
		WipeRedis(t, prefix)
	})
	return prefix
}

// WipeRedis deletes every key starting with prefix, as a Redis restart
// without persistence loses them, and returns how many there were.
func WipeRedis(t testing.TB, prefix string) int {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("EVENTFOLD_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	n := 0
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Unlink(ctx, iter.Val())
		n++
	}
	return n
}

// NATS checks that NATS with JetStream is reachable and returns a stream
// name for the test; the stream, if created, is deleted when the test ends.
func NATS(t testing.TB) string {
	t.Helper()
	nc, err := nats.Connect(NATSURL(), nats.Timeout(5*time.Second))
	if err != nil {
		Unavailable(t, "NATS", err)
	}
	js, err := nc.JetStream()
	if err == nil {
		_, err = js.AccountInfo()
	}
	if err != nil {
		nc.Close()
		Unavailable(t, "NATS JetStream", err)
	}
	stream := Name(t)
	t.Cleanup(func() {
		defer nc.Close()
		if err := js.DeleteStream(stream); err != nil && err != nats.ErrStreamNotFound {
			t.Logf("delete stream %s: %v", stream, err)
		}
	})
	return stream
}
