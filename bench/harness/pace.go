package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// PaceOptions configures Pace.
type PaceOptions struct {
	// Rate is the offered load: operations started per second.
	Rate float64
	// MaxInFlight bounds the operations running at once. An operation
	// whose start time comes while MaxInFlight are running is not started
	// and counts as shed. Zero means 1024.
	MaxInFlight int
	// Drain bounds the wait for the operations still running when the
	// window closes; those that have not finished by then are cancelled
	// and count as timed out. Zero means 10 s.
	Drain time.Duration
}

// Pace offers op at a fixed rate (an open loop, unlike Drive): operation i
// is due at start + i/Rate and runs in its own goroutine, whether or not
// the earlier ones have finished, so a slow system sees its queue grow
// instead of being offered less. First for budget.Warmup without
// measuring, then for budget.Window. Each operation's latency counts from
// its due time, not from when the goroutine got to run, so scheduling
// delays in the generator are charged to the system measured.
//
// op receives the operation's index (counting on from the warm-up) as its
// writer argument. The Sample's Extra holds "offered/s", "shed" and
// "timed out" (operations of the window that did not complete within
// Drain). The first error of op stops the generator and is returned.
// Pace stops by itself: it starts at most Rate × (Warmup + Window)
// operations.
func Pace(ctx context.Context, opts PaceOptions, budget Budget, op Op) (Sample, error) {
	if opts.Rate <= 0 {
		return Sample{}, fmt.Errorf("harness: pace: rate %g", opts.Rate)
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1024
	}
	if opts.Drain <= 0 {
		opts.Drain = 10 * time.Second
	}
	next := 0
	if budget.Warmup > 0 {
		if _, err := pace(ctx, opts, budget.Warmup, false, &next, op); err != nil {
			return Sample{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	var before counters
	if budget.probe != nil {
		before = budget.probe(ctx)
	}
	s, err := pace(ctx, opts, budget.Window, true, &next, op)
	if err == nil && budget.probe != nil {
		s.Cost = costOf(before, budget.probe(ctx), s.Count)
	}
	return s, err
}

func pace(ctx context.Context, opts PaceOptions, window time.Duration, measure bool, next *int, op Op) (Sample, error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	interval := time.Duration(float64(time.Second) / opts.Rate)
	n := int(window / interval)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, n)
		units    atomic.Int64
		inFlight atomic.Int64
		shed     int
		timedOut atomic.Int64
	)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-runCtx.Done():
			case <-timer.C:
			}
		}
		if runCtx.Err() != nil {
			break
		}
		if inFlight.Load() >= int64(opts.MaxInFlight) {
			shed++
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		idx := *next
		*next++
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			u, err := op(runCtx, idx)
			took := time.Since(due)
			if err != nil {
				if context.Cause(runCtx) == errDrained || errors.Is(err, ErrTimedOut) {
					timedOut.Add(1)
					return
				}
				cancel(fmt.Errorf("operation %d: %w", idx, err))
				return
			}
			units.Add(int64(u))
			if measure {
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			}
		}()
	}
	elapsed := time.Since(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drain := time.NewTimer(opts.Drain)
	select {
	case <-done:
		drain.Stop()
	case <-drain.C:
		cancel(errDrained)
		<-done
	}
	if err := context.Cause(runCtx); err != nil && err != errDrained {
		return Sample{}, err
	}
	if ctx.Err() != nil {
		return Sample{}, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	return Sample{
		Count:     units.Load(),
		Ops:       int64(len(lat)),
		Elapsed:   elapsed,
		Latencies: lat,
		Extra: map[string]float64{
			"offered/s": opts.Rate,
			"shed":      float64(shed),
			"timed out": float64(timedOut.Load()),
		},
	}, nil
}

// ErrTimedOut, returned by an operation given to Pace, counts it as timed
// out (in the Sample's Extra) instead of stopping the measurement: an
// overloaded system is measured, not aborted.
var ErrTimedOut = errors.New("harness: operation timed out")

// errDrained cancels the operations still running when Pace's drain time
// is over.
var errDrained = errors.New("harness: pace: drain time over")
