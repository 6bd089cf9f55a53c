package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/command"
)

var _ command.Locker = (*Locker)(nil)

// LockOptions configures a Locker. A nil *LockOptions means the defaults.
type LockOptions struct {
	// Retry is how often Lock tries again while another process holds the
	// lease, and how often a held lease checks its connection. Default 500ms.
	Retry time.Duration
	// Scope starts every lease name. Advisory locks belong to the whole
	// database: give each deployment sharing one database (each schema,
	// say) its own scope so they never wait for each other's leases.
	Scope string
}

// Locker grants named, exclusive leases across processes with PostgreSQL
// session advisory locks. A lease holds one pooled connection; when its
// process dies the connection closes, PostgreSQL releases the lock, and a
// waiting process gets the lease within Retry.
type Locker struct {
	pool  *pgxpool.Pool
	retry time.Duration
	scope string
}

// NewLocker returns a Locker that takes connections from pool.
func NewLocker(pool *pgxpool.Pool, opts *LockOptions) *Locker {
	l := &Locker{pool: pool, retry: 500 * time.Millisecond}
	if opts != nil && opts.Retry > 0 {
		l.retry = opts.Retry
	}
	if opts != nil {
		l.scope = opts.Scope
	}
	return l
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("eventfold.lease." + name))
	return int64(h.Sum64())
}

// Lock blocks until it holds the lease called name, or ctx ends. The
// returned context is cancelled when the lease is lost (its connection
// fails), when it is released, or when ctx ends; release gives the lease up
// and must be called.
func (l *Locker) Lock(ctx context.Context, name string) (held context.Context, release func(), err error) {
	key := lockKey(l.scope + name)
	for {
		conn, err := l.pool.Acquire(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("pgstore: lock %q: %w", name, err)
		}
		var got bool
		err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got)
		if err != nil {
			conn.Release()
			return nil, nil, fmt.Errorf("pgstore: lock %q: %w", name, err)
		}
		if got {
			held, release = l.hold(ctx, conn, key)
			return held, release, nil
		}
		conn.Release()
		t := time.NewTimer(l.retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, errors.Join(fmt.Errorf("pgstore: lock %q: not acquired", name), ctx.Err())
		case <-t.C:
		}
	}
}

// TryLock takes the lease called name if no one holds it, and reports
// whether it did. It implements projection.Leaser.
func (l *Locker) TryLock(ctx context.Context, name string) (held context.Context, release func(), ok bool, err error) {
	key := lockKey(l.scope + name)
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, false, fmt.Errorf("pgstore: lock %q: %w", name, err)
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		conn.Release()
		return nil, nil, false, fmt.Errorf("pgstore: lock %q: %w", name, err)
	}
	if !got {
		conn.Release()
		return nil, nil, false, nil
	}
	held, release = l.hold(ctx, conn, key)
	return held, release, true, nil
}

// hold keeps the lease on conn until release, watching the connection: a
// lost connection is a lost lease.
func (l *Locker) hold(ctx context.Context, conn *pgxpool.Conn, key int64) (context.Context, func()) {
	heldCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(l.retry)
		defer t.Stop()
		for {
			select {
			case <-heldCtx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(heldCtx, l.retry*4)
				err := conn.Ping(pctx)
				pcancel()
				if err != nil && heldCtx.Err() == nil {
					cancel()
					return
				}
			}
		}
	}()
	var once sync.Once
	release := func() {
		once.Do(func() {
			cancel()
			<-done
			uctx, ucancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ucancel()
			if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
				// The lock lives as long as the session: close it rather
				// than return a locked connection to the pool.
				_ = conn.Conn().Close(uctx)
			}
			conn.Release()
		})
	}
	return heldCtx, release
}
