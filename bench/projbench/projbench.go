// Package projbench holds the projection scenarios of the benchmark:
// 5, catching up a backlog into Redis; 6, rebuilding a projection (a new
// version built beside the served one, then switched to); 7, the
// projector's memory while catching up a small and a large backlog, in a
// child process. The backlogs are written straight into pgstore's tables
// with COPY (see Backlogs).
package projbench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/orders"
)

// Options sizes the projection scenarios.
type Options struct {
	// Events is the backlog of scenarios 5 and 6.
	Events int
	// Small and Large are scenario 7's backlogs.
	Small, Large int
	// Backlogs is shared by the scenarios so that each size is filled
	// once per run.
	Backlogs *Backlogs
}

var seq atomic.Int64

// freshPrefix returns a Redis key prefix no earlier measurement used, so
// every catch-up starts from an empty read model.
func freshPrefix(env *harness.Env, name string) string {
	return env.KeyPrefix(fmt.Sprintf("%s-%d", name, seq.Add(1)))
}

// CatchUp is scenario 5.
type CatchUp struct{ Opts Options }

var _ harness.Scenario = CatchUp{}

// ID implements harness.Scenario.
func (CatchUp) ID() int { return 5 }

// Name implements harness.Scenario.
func (CatchUp) Name() string { return "projection" }

// Title implements harness.Scenario.
func (s CatchUp) Title() string {
	return fmt.Sprintf("projection throughput catching up %s events into Redis", count(s.Opts.Events))
}

// Setup implements harness.Scenario.
func (s CatchUp) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	bl, err := s.Opts.Backlogs.Get(ctx, env, s.Opts.Events)
	if err != nil {
		return nil, err
	}
	pool, err := env.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	rdb, err := env.Redis(ctx)
	if err != nil {
		return nil, err
	}
	units := int64(bl.Events)
	eventfold := func(rmw bool) func(context.Context, harness.Budget) (harness.Sample, error) {
		return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
			prefix := freshPrefix(env, "catch-up")
			defer unlinkPrefix(context.WithoutCancel(ctx), rdb, prefix)
			return harness.Once(ctx, b, units, func(ctx context.Context) (time.Duration, error) {
				return catchUp(ctx, bl, rdb, prefix, orders.NewProjection("1", rmw), false)
			})
		}
	}
	write := func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		prefix := freshPrefix(env, "raw-write")
		defer unlinkPrefix(context.WithoutCancel(ctx), rdb, prefix)
		return harness.Once(ctx, b, units, func(ctx context.Context) (time.Duration, error) {
			return rawWrite(ctx, bl, rdb, prefix)
		})
	}
	project := func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		prefix := freshPrefix(env, "raw-project")
		defer unlinkPrefix(context.WithoutCancel(ctx), rdb, prefix)
		return harness.Once(ctx, b, units, func(ctx context.Context) (time.Duration, error) {
			return rawProject(ctx, bl, pool, rdb, prefix)
		})
	}
	baselines := []harness.Contender{
		{Name: "raw pipelined Redis HSET of the same keys", Run: write},
		{Name: "raw pgx keyset read + pipelined HSET", Run: project},
	}
	return &harness.Plan{Cells: []harness.Cell{
		{
			Name:      fmt.Sprintf("%s events, write-only handler", count(bl.Events)),
			Unit:      "events",
			Eventfold: &harness.Contender{Name: "eventfold Runner, LogSource → redisstore", Run: eventfold(false)},
			Baselines: baselines,
		},
		{
			Name:      fmt.Sprintf("%s events, read-modify-write handler", count(bl.Events)),
			Unit:      "events",
			Eventfold: &harness.Contender{Name: "eventfold Runner, LogSource → redisstore", Run: eventfold(true)},
			Baselines: baselines,
		},
	}}, nil
}

// Rebuild is scenario 6.
type Rebuild struct{ Opts Options }

var _ harness.Scenario = Rebuild{}

// ID implements harness.Scenario.
func (Rebuild) ID() int { return 6 }

// Name implements harness.Scenario.
func (Rebuild) Name() string { return "rebuild" }

// Title implements harness.Scenario.
func (s Rebuild) Title() string {
	return fmt.Sprintf("rebuild of a projection from %s events", count(s.Opts.Events))
}

// Setup implements harness.Scenario.
func (s Rebuild) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	bl, err := s.Opts.Backlogs.Get(ctx, env, s.Opts.Events)
	if err != nil {
		return nil, err
	}
	pool, err := env.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	rdb, err := env.Redis(ctx)
	if err != nil {
		return nil, err
	}
	units := int64(bl.Events)
	eventfold := func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		prefix := freshPrefix(env, "rebuild")
		defer unlinkPrefix(context.WithoutCancel(ctx), rdb, prefix)
		// Version 1 serves readers (built first, not timed); version 2 is
		// then built beside it and takes over.
		if _, err := catchUp(ctx, bl, rdb, prefix, orders.NewProjection("1", false), true); err != nil {
			return harness.Sample{}, fmt.Errorf("build version 1: %w", err)
		}
		return harness.Once(ctx, b, units, func(ctx context.Context) (time.Duration, error) {
			return catchUp(ctx, bl, rdb, prefix, orders.NewProjection("2", false), true)
		})
	}
	project := func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		prefix := freshPrefix(env, "raw-rebuild")
		defer unlinkPrefix(context.WithoutCancel(ctx), rdb, prefix)
		return harness.Once(ctx, b, units, func(ctx context.Context) (time.Duration, error) {
			return rawProject(ctx, bl, pool, rdb, prefix)
		})
	}
	return &harness.Plan{Cells: []harness.Cell{{
		Name:      fmt.Sprintf("%s events, version 1 → 2", count(bl.Events)),
		Unit:      "events",
		Eventfold: &harness.Contender{Name: "eventfold rebuild to switch-over", Run: eventfold},
		Baselines: []harness.Contender{{Name: "raw pgx keyset read + pipelined HSET", Run: project}},
	}}}, nil
}

// count formats an event count: 2k, 200k, 1M.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
