package appendbench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
)

// eventfoldTarget appends through pgstore, expecting the exact version the
// writer last saw, as a command handler does.
type eventfoldTarget struct {
	pool   *pgxpool.Pool
	schema string
	store  *pgstore.Store
	events int
}

func newEventfold(ctx context.Context, pool *pgxpool.Pool, schema string, events int) (*eventfoldTarget, error) {
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		return nil, fmt.Errorf("appendbench: migrate eventfold: %w", err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		return nil, fmt.Errorf("appendbench: eventfold store: %w", err)
	}
	return &eventfoldTarget{pool: pool, schema: schema, store: store, events: events}, nil
}

func (t *eventfoldTarget) reset(ctx context.Context) error {
	return truncate(ctx, t.pool, t.schema, "events", "streams", "command_keys")
}

func (t *eventfoldTarget) writer() (func(context.Context) error, error) {
	stream := "order-" + eventstore.NewEventID()
	evs := make([]eventstore.Event, t.events)
	for i := range evs {
		evs[i] = eventstore.Event{Type: eventType, Data: payload, Metadata: meta}
	}
	var version int64
	return func(ctx context.Context) error {
		res, err := t.store.Append(ctx, stream, eventstore.Exact(version), evs)
		if err != nil {
			return err
		}
		version = res.StreamVersion
		return nil
	}, nil
}
