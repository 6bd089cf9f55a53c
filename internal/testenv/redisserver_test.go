package testenv_test

import (
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/internal/testenv"
)

// TestStartRedisServer starts a server of its own, which answers and
// keeps nothing of anyone else's, and checks that Close stops it.
func TestStartRedisServer(t *testing.T) {
	srv, err := testenv.StartRedisServer(t.Context())
	if err != nil {
		testenv.Unavailable(t, "redis-server", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	if n, err := rdb.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Fatalf("DBSIZE of a new server = %d, %v; want 0", n, err)
	}
	if err := rdb.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.ConfigGet(t.Context(), "save").Result(); err != nil || got["save"] != "" {
		t.Errorf("CONFIG GET save = %v, %v; want snapshots off", got, err)
	}
	srv.Close()
	if c, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", srv.Addr())
	}
}
