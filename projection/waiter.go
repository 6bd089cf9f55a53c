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
}

// Waiter serves read-your-writes for one projection: any number of
// goroutines wait on it for consistency tokens, and one poller reads the
// projection's checkpoints for all of them (two round trips to the
// read-model store per Interval, and none while nobody waits). An HTTP
// server keeps one Waiter per projection.
type Waiter struct {
	r          readmodel.Reader
	projection string
	tenant     string
	interval   time.Duration

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
	return w
}

// WaitFor returns nil once the projection's active version has applied
// everything up to token. When ctx ends first it returns an error matching
// ErrStale (or ErrNotReady when no version is active).
func (w *Waiter) WaitFor(ctx context.Context, token eventstore.Position) error {
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
		reached, err := minCheckpoint(context.Background(), w.r, w.projection, w.tenant)
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
		time.Sleep(w.interval)
	}
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
