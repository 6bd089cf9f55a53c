package harness

import (
	"context"
	"time"
)

// Once measures one run of a fixed amount of work (units of it), such as
// catching up a backlog, with the same resource probe as Drive. The
// Sample's rate is units per second of wall time, and its one latency is
// the wall time. The budget's warm-up and window do not apply.
func Once(ctx context.Context, budget Budget, units int64, work func(ctx context.Context) (time.Duration, error)) (Sample, error) {
	var before counters
	if budget.probe != nil {
		before = budget.probe(ctx)
	}
	took, err := work(ctx)
	if err != nil {
		return Sample{}, err
	}
	s := Sample{Count: units, Ops: 1, Elapsed: took, Latencies: []time.Duration{took},
		Extra: map[string]float64{"wall time s": took.Seconds()}}
	if budget.probe != nil {
		s.Cost = costOf(before, budget.probe(ctx), units)
	}
	return s, nil
}
