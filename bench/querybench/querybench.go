package querybench

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/bench/harness"
)

// Scenario measures query latency. It implements harness.Scenario.
type Scenario struct{}

var _ harness.Scenario = Scenario{}

// ID implements harness.Scenario.
func (Scenario) ID() int { return 8 }

// Name implements harness.Scenario.
func (Scenario) Name() string { return "query" }

// Title implements harness.Scenario.
func (Scenario) Title() string { return "query latency from the read model" }

// document is the value queried: about the size of one order's read model.
var document = `{"order_id":"0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d30","status":"PAID","amount_cents":12345,"currency":"EUR","items":3,"note":"` +
	strings.Repeat("x", 150) + `"}`

// Setup implements harness.Scenario: it stores the document under a key of
// the run's own.
func (Scenario) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	rdb, err := env.Redis(ctx)
	if err != nil {
		return nil, err
	}
	key := env.KeyPrefix("query") + "order"
	if err := rdb.Set(ctx, key, document, 0).Err(); err != nil {
		return nil, fmt.Errorf("querybench: set %s: %w", key, err)
	}
	get := func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		return harness.Drive(ctx, 1, b, func(ctx context.Context, _ int) (int, error) {
			v, err := rdb.Get(ctx, key).Result()
			if err != nil {
				return 0, fmt.Errorf("redis GET: %w", err)
			}
			if len(v) != len(document) {
				return 0, fmt.Errorf("redis GET: %d bytes, want %d", len(v), len(document))
			}
			return 1, nil
		})
	}
	return &harness.Plan{
		Cells: []harness.Cell{{
			Name:             "1 reader",
			Unit:             "queries",
			EventfoldPending: "needs the read model",
			Baselines:        []harness.Contender{{Name: "raw Redis GET", Run: get}},
		}},
		Close: func(ctx context.Context) error {
			if err := rdb.Del(ctx, key).Err(); err != nil && err != redis.Nil {
				return fmt.Errorf("querybench: delete %s: %w", key, err)
			}
			return nil
		},
	}, nil
}
