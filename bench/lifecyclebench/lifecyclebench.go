package lifecyclebench

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/eventstore"
)

// Scenario measures stream lifecycle operations. It implements
// harness.Scenario.
type Scenario struct{}

var _ harness.Scenario = Scenario{}

// ID implements harness.Scenario.
func (Scenario) ID() int { return 12 }

// Name implements harness.Scenario.
func (Scenario) Name() string { return "lifecycle" }

// Title implements harness.Scenario.
func (Scenario) Title() string { return "stream lifecycle operations against an append" }

// streamEvents is how many events each measured stream holds before its
// lifecycle operation.
const streamEvents = 10

// Setup implements harness.Scenario. Each operation writes a stream of
// streamEvents events and then deletes, truncates or archives it; the
// baseline writes the same stream and then appends one event, the size of
// the marker each operation writes.
func (Scenario) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	pool, err := env.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	schema, err := env.Schema(ctx, "lifecycle")
	if err != nil {
		return nil, err
	}
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		return nil, err
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		return nil, err
	}
	var seq atomic.Int64
	withStream := func(name string, then func(ctx context.Context, id string) error) func(context.Context, harness.Budget) (harness.Sample, error) {
		return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
			return harness.Drive(ctx, 1, b, func(ctx context.Context, _ int) (int, error) {
				id := fmt.Sprintf("%s-%d", name, seq.Add(1))
				if _, err := store.Append(ctx, id, eventstore.NoStream, events(streamEvents)); err != nil {
					return 0, fmt.Errorf("append %s: %w", id, err)
				}
				if err := then(ctx, id); err != nil {
					return 0, fmt.Errorf("%s %s: %w", name, id, err)
				}
				return 1, nil
			})
		}
	}
	appendOne := harness.Contender{Name: "append of one event to the stream", Run: withStream("append", func(ctx context.Context, id string) error {
		_, err := store.Append(ctx, id, eventstore.Exact(streamEvents), events(1))
		return err
	})}
	cell := func(name string, op func(ctx context.Context, id string) error) harness.Cell {
		return harness.Cell{
			Name:      fmt.Sprintf("%s a stream of %d events", name, streamEvents),
			Unit:      "streams",
			Eventfold: &harness.Contender{Name: "eventfold " + name, Run: withStream(name, op)},
			Baselines: []harness.Contender{appendOne},
		}
	}
	return &harness.Plan{Cells: []harness.Cell{
		cell("soft-delete", func(ctx context.Context, id string) error {
			_, err := store.DeleteStream(ctx, id, eventstore.Exact(streamEvents), eventstore.SoftDelete)
			return err
		}),
		cell("truncate", func(ctx context.Context, id string) error {
			_, err := store.TruncateStream(ctx, id, streamEvents)
			return err
		}),
		cell("archive", func(ctx context.Context, id string) error {
			_, err := store.ArchiveStream(ctx, id, eventstore.Exact(streamEvents))
			return err
		}),
	}}, nil
}

// events returns n small JSON events.
func events(n int) []eventstore.Event {
	out := make([]eventstore.Event, n)
	for i := range out {
		out[i] = eventstore.Event{Type: "Noted", Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	return out
}
