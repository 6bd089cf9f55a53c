package projbench

import (
	"context"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/orders"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// FilteredEvery is how often an event of the filtered rebuild's backlog is
// one the projection handles: one in 50, 2%.
const FilteredEvery = 50

// FilteredRebuild is scenario 10: building a projection that handles 2% of
// the log from its start, reading only the events it handles (pgstore's
// filtered reads, which a Runner over LogSource uses by itself), against
// the same Runner reading the whole log.
type FilteredRebuild struct{ Opts Options }

var _ harness.Scenario = FilteredRebuild{}

// ID implements harness.Scenario.
func (FilteredRebuild) ID() int { return 10 }

// Name implements harness.Scenario.
func (FilteredRebuild) Name() string { return "filtered" }

// Title implements harness.Scenario.
func (s FilteredRebuild) Title() string {
	return fmt.Sprintf("rebuild of a projection handling 2%% of %s events, filtered reads against the whole log", count(s.Opts.Events))
}

// wholeLog hides the store's filtered reads (and every other optional
// capability but the head): a LogSource over it reads the whole log.
type wholeLog struct{ eventstore.Store }

func (w wholeLog) Head(ctx context.Context) (eventstore.Position, error) {
	return eventstore.Head(ctx, w.Store)
}

// Setup implements harness.Scenario.
func (s FilteredRebuild) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	bl, err := s.Opts.Backlogs.GetMixed(ctx, env, s.Opts.Events, FilteredEvery)
	if err != nil {
		return nil, err
	}
	rdb, err := env.Redis(ctx)
	if err != nil {
		return nil, err
	}
	units := int64(bl.Events)
	build := func(src projection.Source, name string) func(context.Context, harness.Budget) (harness.Sample, error) {
		return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
			prefix := freshPrefix(env, name)
			defer unlinkPrefix(context.WithoutCancel(ctx), rdb, prefix)
			return harness.Once(ctx, b, units, func(ctx context.Context) (time.Duration, error) {
				return catchUpFrom(ctx, src, bl, rdb, prefix, orders.NewProjection("1", false), false)
			})
		}
	}
	return &harness.Plan{Cells: []harness.Cell{{
		Name:      fmt.Sprintf("%s events, 2%% handled", count(bl.Events)),
		Unit:      "events",
		Eventfold: &harness.Contender{Name: "eventfold Runner, LogSource with filtered reads", Run: build(projection.LogSource(bl.Store, nil), "filtered")},
		Baselines: []harness.Contender{{Name: "eventfold Runner, LogSource reading the whole log", Run: build(projection.LogSource(wholeLog{bl.Store}, nil), "whole-log")}},
	}}}, nil
}
