package projection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/readmodel"
)

// WaiterOptions configures a Waiter. A nil value means the defaults.
type WaiterOptions struct {
	// Interval is how often the checkpoints are read while someone waits.
	// Default 1ms.
	Interval time.Duration
	// Runner, when set, is a Runner of the same projection and tenant in
	// this process, of a projection with one partition. While readers are
	// served from its version, the Waiter takes the positions it commits
	// from it, with no round trip to the store, and wakes waiters at each
	// commit rather than at the next poll. While another version serves,
	// or once the Runner has stopped, the Waiter reads the checkpoints
	// from the store as without it. A Runner of another projection or
	// tenant, or of several partitions, is ignored. Default nil: always
	// read the store.
	Runner *Runner
}

// localRecheck bounds how long a Waiter following a local Runner goes
// without looking at it again, should a wake-up be missed.
const localRecheck = 100 * time.Millisecond

// Waiter serves read-your-writes for one projection: any number of
// goroutines wait on it for consistency tokens, and one poller reads the
// projection's checkpoints for all of them (two round trips to the
// read-model store per Interval, and none while nobody waits). An HTTP
// server keeps one Waiter per projection; one that also runs the
// projection gives it its Runner (WaiterOptions.Runner), which spares the
// round trips and the wait for the next poll.
type Waiter struct {
	r          readmodel.Reader
	projection string
	tenant     string
	interval   time.Duration
	local      *Runner // nil: none, or one that does not match

	mu      sync.Mutex
	waiters map[chan struct{}]eventstore.Position
	polling bool
	reached eventstore.Position // highest position known applied
	lastErr error
}

// NewWaiter returns a Waiter for projection (and tenant, "" for none).
func NewWaiter(r readmodel.Reader, projection, tenant string, opts *WaiterOptions) *Waiter {
	w := &Waiter{r: r, projection: projection, tenant: tenant, interval: time.Millisecond,
		waiters: map[chan struct{}]eventstore.Position{}}
	if opts != nil && opts.Interval > 0 {
		w.interval = opts.Interval
	}
	if opts != nil && opts.Runner != nil {
		c := opts.Runner.cfg
		if c.Projection.name == projection && c.Tenant == tenant && c.Partitions == 1 {
			w.local = opts.Runner
		}
	}
	return w
}

// WaitFor returns nil once the projection's active version has applied
// everything up to token. When ctx ends first it returns an error matching
// ErrStale (or ErrNotReady when no version is active).
func (w *Waiter) WaitFor(ctx context.Context, token eventstore.Position) error {
	if w.local != nil {
		if pos, _, ok := w.local.served(); ok && !pos.Before(token) {
			return nil
		}
	}
	w.mu.Lock()
	if !w.reached.Before(token) {
		w.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	w.waiters[ch] = token
	if !w.polling {
		w.polling = true
		go w.poll()
	}
	w.mu.Unlock()

	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		delete(w.waiters, ch)
		lastErr := w.lastErr
		w.mu.Unlock()
		switch {
		case errors.Is(lastErr, ErrNotReady):
			return fmt.Errorf("%w (waiting for %s: %v)", lastErr, token, ctx.Err())
		case lastErr != nil:
			return fmt.Errorf("%w: %q has not reached %s: %v (reading its checkpoints: %w)", ErrStale, w.projection, token, ctx.Err(), lastErr)
		}
		return fmt.Errorf("%w: %q has not reached %s: %v", ErrStale, w.projection, token, ctx.Err())
	}
}

// poll runs while anyone waits.
func (w *Waiter) poll() {
	for {
		reached, next, err := w.position()
		w.mu.Lock()
		w.lastErr = err
		if err == nil && w.reached.Before(reached) {
			w.reached = reached
		}
		for ch, token := range w.waiters {
			if !w.reached.Before(token) {
				close(ch)
				delete(w.waiters, ch)
			}
		}
		if len(w.waiters) == 0 {
			w.polling = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		if next == nil {
			time.Sleep(w.interval)
			continue
		}
		t := time.NewTimer(localRecheck)
		select {
		case <-next:
		case <-t.C:
		}
		t.Stop()
	}
}

// position returns the position the active version has applied: the
// local Runner's while it serves readers, with a channel closed when that
// changes, or else the checkpoints' in the store (next nil).
func (w *Waiter) position() (reached eventstore.Position, next <-chan struct{}, err error) {
	if w.local != nil {
		if pos, next, ok := w.local.served(); ok {
			return pos, next, nil
		}
	}
	reached, err = minCheckpoint(context.Background(), w.r, w.projection, w.tenant)
	return reached, nil, err
}

// minCheckpoint returns the position every partition of the active
// version has applied.
func minCheckpoint(ctx context.Context, r readmodel.Reader, projection, tenant string) (eventstore.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, ok, err := readPointer(ctx, r, projection, tenant)
	if err != nil {
		return eventstore.Position{}, err
	}
	if !ok {
		return eventstore.Position{}, fmt.Errorf("%w: %q has no active version", ErrNotReady, projection)
	}
	docs, err := pointerLayout(projection, tenant, p).readEach(ctx, r, checkpointID)
	if err != nil {
		return eventstore.Position{}, err
	}
	if slices.Contains(docs, nil) {
		return eventstore.Position{}, nil
	}
	var low eventstore.Position
	for i, d := range docs {
		var cp checkpoint
		if err := jsonUnmarshal(d.Data, &cp); err != nil {
			return eventstore.Position{}, err
		}
		if i == 0 || cp.Position.Before(low) {
			low = cp.Position
		}
	}
	return low, nil
}
