package pgstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// withSessionLock runs fn on one connection of db while it holds the
// session-level advisory lock named name, for work that cannot run in a
// transaction (CREATE INDEX CONCURRENTLY). It takes the lock with
// pg_try_advisory_lock in a loop rather than waiting in pg_advisory_lock:
// a waiting statement keeps a snapshot open, and a concurrent index build
// waits for every older snapshot, so the holder and the waiter would
// deadlock. A db that is neither a pool nor a connection runs fn without
// the lock.
func withSessionLock(ctx context.Context, db DB, name string, fn func(DB) error) error {
	var conn *pgx.Conn
	switch d := db.(type) {
	case *pgxpool.Pool:
		c, err := d.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("pgstore: %s: %w", name, err)
		}
		defer c.Release()
		conn = c.Conn()
	case *pgx.Conn:
		conn = d
	default:
		return fn(db)
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	key := int64(h.Sum64())
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
			return fmt.Errorf("pgstore: %s: lock: %w", name, err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgstore: %s: lock: %w", name, ctx.Err())
		case <-time.After(wait):
		}
	}
	defer func() {
		// A connection that cannot unlock is closed, so that the pool
		// does not hand out a session still holding the lock.
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(unlockCtx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Close(unlockCtx)
		}
	}()
	return fn(conn)
}
