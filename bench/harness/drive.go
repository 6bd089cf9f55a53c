package harness

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Op is one operation of a closed-loop writer: writer is the caller's index
// (0 to writers-1), so per-writer state can live in a slice the closure
// captures. It returns how many units it did (for example events appended).
type Op func(ctx context.Context, writer int) (units int, err error)

// Drive runs op in a closed loop from the given number of concurrent
// goroutines: first for budget.Warmup without measuring, then for
// budget.Window, timing every operation that starts inside the window. The
// first error stops every goroutine and is returned.
func Drive(ctx context.Context, writers int, budget Budget, op Op) (Sample, error) {
	if writers < 1 {
		return Sample{}, fmt.Errorf("harness: drive: %d writers", writers)
	}
	if budget.Warmup > 0 {
		if _, err := drive(ctx, writers, budget.Warmup, false, op); err != nil {
			return Sample{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	var before counters
	if budget.probe != nil {
		before = budget.probe(ctx)
	}
	s, err := drive(ctx, writers, budget.Window, true, op)
	if err == nil && budget.probe != nil {
		s.Cost = costOf(before, budget.probe(ctx), s.Count)
	}
	return s, err
}

func drive(ctx context.Context, writers int, window time.Duration, measure bool, op Op) (Sample, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	type tally struct {
		units, ops int64
		lat        []time.Duration
	}
	tallies := make([]tally, writers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(window)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &tallies[w]
			if measure {
				t.lat = make([]time.Duration, 0, 1024)
			}
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				n, err := op(ctx, w)
				if err != nil {
					cancel(fmt.Errorf("writer %d: %w", w, err))
					return
				}
				t.units += int64(n)
				t.ops++
				if measure {
					t.lat = append(t.lat, time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return Sample{}, err
	}
	s := Sample{Elapsed: elapsed}
	for _, t := range tallies {
		s.Count += t.units
		s.Ops += t.ops
		s.Latencies = append(s.Latencies, t.lat...)
	}
	return s, nil
}
