package command

import (
	"context"
	"math/rand/v2"
	"time"
)

// Defaults of RetryPolicy. With them a Handler tries a command up to 30
// times, waiting about 1ms, 2ms, 4ms, … but never more than 100ms between
// tries: at most about 2.5 seconds of waiting in all. Each retry reads only
// the events appended since the last try, so retries are cheap and 16
// writers hammering one stream all get through (see the hot-stream tests).
const (
	DefaultMaxAttempts  = 30
	DefaultInitialDelay = time.Millisecond
	DefaultMaxDelay     = 100 * time.Millisecond
)

// RetryPolicy bounds how a Handler retries a command whose append lost a
// race with another writer (an eventstore.ErrConcurrency conflict). Each
// retry reloads the stream and calls Decide again. The wait before retry n
// is drawn at random from [d/2, d], where d is InitialDelay·2^(n-1) capped at
// MaxDelay; the randomness keeps competing writers from retrying in step.
// The zero value means the defaults.
type RetryPolicy struct {
	// MaxAttempts is the number of tries, the first one included. Zero
	// means DefaultMaxAttempts; 1 turns retries off.
	MaxAttempts int
	// InitialDelay is the wait before the first retry, before jitter. Zero
	// means DefaultInitialDelay.
	InitialDelay time.Duration
	// MaxDelay caps the wait between two tries. Zero means
	// DefaultMaxDelay.
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialDelay <= 0 {
		p.InitialDelay = DefaultInitialDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxDelay < p.InitialDelay {
		p.MaxDelay = p.InitialDelay
	}
	return p
}

// delay returns the jittered wait before retry n (n >= 1).
func (p RetryPolicy) delay(n int) time.Duration {
	d := p.InitialDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
