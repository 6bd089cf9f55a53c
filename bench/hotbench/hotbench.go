// Package hotbench holds benchmark scenario 3: many writers on one stream
// through eventfold's command handler, against the limit of one stream:
// appends queued on one row lock, which never conflict. The writers share
// one Handler (one process: they take turns) or have one each (as many
// processes: they race, and the losers retry).
package hotbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/orders"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// Scenario is scenario 3. It implements harness.Scenario.
type Scenario struct {
	// Writers is the number of concurrent writers. Zero means 16.
	Writers int
}

var _ harness.Scenario = Scenario{}

// ID implements harness.Scenario.
func (Scenario) ID() int { return 3 }

// Name implements harness.Scenario.
func (Scenario) Name() string { return "hot-stream" }

// Title implements harness.Scenario.
func (Scenario) Title() string {
	return "hot stream, 16 writers through one command handler or one each"
}

const stream = "order-hot"

// Setup implements harness.Scenario.
func (s Scenario) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	writers := s.Writers
	if writers <= 0 {
		writers = 16
	}
	pool, err := env.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	schema, err := env.Schema(ctx, s.Name())
	if err != nil {
		return nil, err
	}
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		return nil, fmt.Errorf("hotbench: migrate: %w", err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		return nil, err
	}
	reg, err := orders.NewRegistry()
	if err != nil {
		return nil, err
	}
	retries := &counter{}
	// One Handler serves every writer, as in one process: its writers take
	// turns on the stream. One Handler per writer stands for as many
	// processes: they race, and the losers retry.
	shared, err := newHandler(store, pool, opts, reg, retries)
	if err != nil {
		return nil, err
	}
	perWriter := make([]*command.Handler[orders.State, orders.AddItem, orders.ItemAdded], writers)
	for i := range perWriter {
		if perWriter[i], err = newHandler(store, pool, opts, reg, retries); err != nil {
			return nil, err
		}
	}
	if _, err := pool.Exec(ctx, fmt.Sprintf(`
CREATE TABLE %[1]s (stream_id text PRIMARY KEY, version bigint NOT NULL) WITH (fillfactor = 80);
CREATE TABLE %[2]s (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id text   NOT NULL,
    version   bigint NOT NULL,
    data      jsonb  NOT NULL,
    metadata  jsonb,
    UNIQUE (stream_id, version)
)`, pgx.Identifier{schema, "raw_streams"}.Sanitize(), pgx.Identifier{schema, "raw_events"}.Sanitize())); err != nil {
		return nil, fmt.Errorf("hotbench: raw tables: %w", err)
	}

	eventfold := func(handlerOf func(w int) *command.Handler[orders.State, orders.AddItem, orders.ItemAdded]) func(context.Context, harness.Budget) (harness.Sample, error) {
		return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
			if err := truncate(ctx, pool, schema, "events", "streams", "command_keys", "snapshots"); err != nil {
				return harness.Sample{}, err
			}
			var gaveUp, all atomic.Int64
			retries.n.Store(0)
			retries.other.Store(0)
			smp, err := harness.Drive(ctx, writers, b, func(ctx context.Context, w int) (int, error) {
				all.Add(1)
				_, err := handlerOf(w).Handle(ctx, stream, orders.AddItem{SKU: "SKU-000123", Quantity: 3})
				switch {
				case errors.Is(err, eventstore.ErrConcurrency):
					gaveUp.Add(1) // the retries ran out: not a success
					return 0, nil
				case err != nil:
					return 0, err
				}
				return 1, nil
			})
			if err != nil {
				return smp, err
			}
			if n := retries.other.Load(); n > 0 {
				return smp, fmt.Errorf("hotbench: %d snapshot warnings from the handler", n)
			}
			// Warm-up and window together: the ratios are what matters.
			n := float64(max(all.Load(), 1))
			smp.Extra = map[string]float64{
				"gave up (retries exhausted), % of commands": 100 * float64(gaveUp.Load()) / n,
				"conflict retries per command":               float64(retries.n.Load()) / n,
			}
			return smp, nil
		}
	}

	raw := func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		if err := truncate(ctx, pool, schema, "raw_streams", "raw_events"); err != nil {
			return harness.Sample{}, err
		}
		if _, err := pool.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "raw_streams"}.Sanitize()+" VALUES ($1, 0)", stream); err != nil {
			return harness.Sample{}, err
		}
		data, err := reg.Encode(orders.NewEvent("0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d30", "SKU-000123", 3))
		if err != nil {
			return harness.Sample{}, err
		}
		sql := fmt.Sprintf(`WITH s AS (UPDATE %[1]s SET version = version + 1 WHERE stream_id = $1 RETURNING version)
INSERT INTO %[2]s (stream_id, version, data, metadata) SELECT $1, s.version, $2, $3 FROM s`,
			pgx.Identifier{schema, "raw_streams"}.Sanitize(), pgx.Identifier{schema, "raw_events"}.Sanitize())
		meta := []byte(`{"correlation_id":"0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2e","causation_id":"0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2f"}`)
		return harness.Drive(ctx, writers, b, func(ctx context.Context, w int) (int, error) {
			tag, err := pool.Exec(ctx, sql, stream, string(data.Data), string(meta))
			if err != nil {
				return 0, err
			}
			if tag.RowsAffected() != 1 {
				return 0, fmt.Errorf("hotbench: raw append wrote %d rows", tag.RowsAffected())
			}
			return 1, nil
		})
	}

	baseline := []harness.Contender{{Name: "raw pgx row-locked append", Run: raw}}
	return &harness.Plan{Cells: []harness.Cell{{
		Name: fmt.Sprintf("%d writers, 1 stream, 1 handler", writers),
		Unit: "commands",
		Eventfold: &harness.Contender{Name: "eventfold command handler", Run: eventfold(func(int) *command.Handler[orders.State, orders.AddItem, orders.ItemAdded] {
			return shared
		})},
		Baselines: baseline,
	}, {
		Name: fmt.Sprintf("%d writers, 1 stream, %d handlers", writers, writers),
		Unit: "commands",
		Eventfold: &harness.Contender{Name: "eventfold command handlers", Run: eventfold(func(w int) *command.Handler[orders.State, orders.AddItem, orders.ItemAdded] {
			return perWriter[w]
		})},
		Baselines: baseline,
	}}}, nil
}

func newHandler(store eventstore.Store, pool *pgxpool.Pool, opts *pgstore.Options, reg *command.Registry, retries *counter) (*command.Handler[orders.State, orders.AddItem, orders.ItemAdded], error) {
	return command.NewHandler(store, reg, orders.Decider, &command.Options{
		// A hot stream grows by thousands of events per second: without
		// snapshots every try would read the whole stream.
		Snapshots: &command.Snapshots{Store: pgstore.NewSnapshots(pool, opts)},
		Logger:    slog.New(retries),
	})
}

// counter is a slog.Handler that counts the Handler's warnings: one per
// retry after a conflict (n), and any other (snapshot trouble).
type counter struct{ n, other atomic.Int64 }

func (c *counter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (c *counter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "conflict") {
		c.n.Add(1)
	} else {
		c.other.Add(1)
	}
	return nil
}
func (c *counter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *counter) WithGroup(string) slog.Handler      { return c }

func truncate(ctx context.Context, pool *pgxpool.Pool, schema string, tables ...string) error {
	sql := "TRUNCATE "
	for i, t := range tables {
		if i > 0 {
			sql += ", "
		}
		sql += pgx.Identifier{schema, t}.Sanitize()
	}
	if _, err := pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("hotbench: %s: %w", sql, err)
	}
	return nil
}
