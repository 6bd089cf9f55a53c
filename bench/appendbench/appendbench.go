package appendbench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/bench/harness"
)

// Scenario appends a fixed number of events per command. It implements
// harness.Scenario.
type Scenario struct {
	id       int
	events   int
	writers  []int
	variants bool
}

var _ harness.Scenario = (*Scenario)(nil)

// Options configures a Scenario.
type Options struct {
	// Writers lists the numbers of concurrent writers, one cell each.
	// Empty means 1 and 16.
	Writers []int
	// Variants adds contenders that take eventfold's append apart (see
	// variants.go), for analysis; they are not baselines.
	Variants bool
}

// New returns scenario 1 (events 1) or 2 (events 10), or any other batch
// size with id 0.
func New(events int, opts *Options) *Scenario {
	s := &Scenario{events: events, writers: []int{1, 16}}
	switch events {
	case 1:
		s.id = 1
	case 10:
		s.id = 2
	}
	if opts != nil && len(opts.Writers) > 0 {
		s.writers = opts.Writers
	}
	if opts != nil {
		s.variants = opts.Variants
	}
	return s
}

// ID implements harness.Scenario.
func (s *Scenario) ID() int { return s.id }

// Name implements harness.Scenario.
func (s *Scenario) Name() string { return fmt.Sprintf("append-%d", s.events) }

// Title implements harness.Scenario.
func (s *Scenario) Title() string {
	if s.events == 1 {
		return "append, 1 event per command"
	}
	return fmt.Sprintf("append, %d events per command", s.events)
}

// target is one contender's tables, set up once per run.
type target interface {
	// reset empties the contender's tables before a measurement.
	reset(ctx context.Context) error
	// writer returns the operation of one writer, with its own fresh
	// stream.
	writer() (func(ctx context.Context) error, error)
}

// Setup implements harness.Scenario: it creates the run's schema with
// eventfold's tables (pgstore.Migrate), the raw table and watermill's topic
// table.
func (s *Scenario) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	if s.events < 1 {
		return nil, fmt.Errorf("appendbench: %d events per command", s.events)
	}
	pool, err := env.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	schema, err := env.Schema(ctx, s.Name())
	if err != nil {
		return nil, err
	}
	ef, err := newEventfold(ctx, pool, schema, s.events)
	if err != nil {
		return nil, err
	}
	raw, err := newRaw(ctx, pool, schema, s.events)
	if err != nil {
		return nil, err
	}
	wm, err := newWatermill(ctx, pool, schema, s.events)
	if err != nil {
		return nil, err
	}
	var (
		withCorrelation *eventsOnlyTarget
		noTypeIndex     *eventfoldTarget
	)
	if s.variants {
		if withCorrelation, err = newEventsWithCorrelationIndex(ctx, ef); err != nil {
			return nil, err
		}
		if noTypeIndex, err = newEventfoldWithoutTypeIndex(ctx, env, pool, s.Name(), s.events); err != nil {
			return nil, err
		}
	}
	plan := &harness.Plan{Close: func(context.Context) error { return wm.close() }}
	rawName := "raw pgx INSERT"
	if s.events > 1 {
		rawName = fmt.Sprintf("raw pgx %d-row INSERT", s.events)
	}
	for _, w := range s.writers {
		name := fmt.Sprintf("%d writers", w)
		if w == 1 {
			name = "1 writer"
		}
		cell := harness.Cell{
			Name:      name,
			Unit:      "events",
			Eventfold: &harness.Contender{Name: "eventfold pgstore", Run: s.measure(ef, w)},
			Baselines: []harness.Contender{
				{Name: rawName, Run: s.measure(raw, w)},
				{Name: "watermill-sql Publish", Run: s.measure(wm, w)},
			},
		}
		if s.variants {
			cell.Baselines = append(cell.Baselines,
				harness.Contender{Name: "variant: INSERT into eventfold's events table", Run: s.measure(newEventsOnly(ef), w)},
				harness.Contender{Name: "variant: the same with the correlation index", Run: s.measure(withCorrelation, w)},
				harness.Contender{Name: "variant: append_events with binary UUIDs", Run: s.measure(newFunction(ef), w)},
				harness.Contender{Name: "variant: eventfold pgstore without the type index", Run: s.measure(noTypeIndex, w)},
			)
		}
		plan.Cells = append(plan.Cells, cell)
	}
	return plan, nil
}

// measure empties t's tables, gives each of writers goroutines its own
// stream and drives them.
func (s *Scenario) measure(t target, writers int) func(context.Context, harness.Budget) (harness.Sample, error) {
	return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		if err := t.reset(ctx); err != nil {
			return harness.Sample{}, err
		}
		ops := make([]func(context.Context) error, writers)
		for i := range ops {
			op, err := t.writer()
			if err != nil {
				return harness.Sample{}, err
			}
			ops[i] = op
		}
		return harness.Drive(ctx, writers, b, func(ctx context.Context, w int) (int, error) {
			return s.events, ops[w](ctx)
		})
	}
}

func truncate(ctx context.Context, pool *pgxpool.Pool, schema string, tables ...string) error {
	sql := "TRUNCATE "
	for i, t := range tables {
		if i > 0 {
			sql += ", "
		}
		sql += pgx.Identifier{schema, t}.Sanitize()
	}
	if _, err := pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("appendbench: %s: %w", sql, err)
	}
	return nil
}
