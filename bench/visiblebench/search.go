package visiblebench

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/eventfold/eventfold/bench/harness"
)

// Search configures the search for the highest load each contender
// sustains: every command of the window completes, none is shed or times
// out, and the p99 latency stays at or under P99.
type Search struct {
	// P99 is the bound on the p99 latency. Zero: no search.
	P99 time.Duration
	// From is the first load offered, commands per second.
	From float64
	// Steps bounds the measurements per contender: loads grow by half
	// while they are sustained, then the search halves the interval
	// between the highest sustained load and the lowest failed one. When
	// From itself fails, loads halve down to From/8, then the search
	// reports 0.
	Steps int
}

// run is one contender at one offered load.
type run func(rate float64) func(context.Context, harness.Budget) (harness.Sample, error)

// search returns a contender whose rate is the highest load run sustains,
// each step measured for half the budget's window. Its latencies are those
// of that load's step; Extra gives the load and its p99, and 0 when even
// From was not sustained.
func (s Search) search(r run) func(context.Context, harness.Budget) (harness.Sample, error) {
	return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		step := b
		step.Window = max(b.Window/2, 10*time.Millisecond)
		var (
			best     harness.Sample
			lo, hi   float64 // highest sustained, lowest failed (0: none yet)
			rate     = s.From
			measured = 0
		)
		for measured < max(s.Steps, 1) {
			smp, err := r(rate)(ctx, step)
			if err != nil {
				return smp, err
			}
			measured++
			if s.sustained(smp, rate) {
				lo, best = rate, smp
			} else {
				hi = rate
			}
			switch {
			case hi == 0:
				rate *= 1.5
			case lo == 0 && hi/2 < s.From/8:
				measured = s.Steps // nothing near From is sustained
			case lo == 0:
				rate = hi / 2
			case hi/lo < 1.08:
				measured = s.Steps // close enough
			default:
				rate = (lo + hi) / 2
			}
		}
		out := harness.Sample{
			Count:     int64(math.Round(lo)),
			Ops:       best.Ops,
			Elapsed:   time.Second,
			Latencies: best.Latencies,
			Cost:      best.Cost,
			Extra:     map[string]float64{"sustained/s": lo, "p99 ms at it": p99(best.Latencies), "steps": float64(measured)},
		}
		return out, nil
	}
}

// sustained reports whether smp, measured at the offered rate, kept up
// within the bound.
func (s Search) sustained(smp harness.Sample, rate float64) bool {
	if smp.Extra["shed"] > 0 || smp.Extra["timed out"] > 0 || smp.Rate() < 0.98*rate {
		return false
	}
	return time.Duration(p99(smp.Latencies)*float64(time.Millisecond)) <= s.P99
}

func p99(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	i := min(len(sorted)-1, max(0, (len(sorted)*99+99)/100-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}
