package querybench

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/readmodel"
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

// order is the read model's document type.
type order struct {
	OrderID     string `json:"order_id"`
	Status      string `json:"status"`
	AmountCents int    `json:"amount_cents"`
	Currency    string `json:"currency"`
	Items       int    `json:"items"`
	Note        string `json:"note"`
}

// orderModel decodes the document (JSON, no index).
var orderModel = readmodel.Model[order]{}

// document is the value queried: about the size of one order's read model.
var document = `{"order_id":"0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d30","status":"PAID","amount_cents":12345,"currency":"EUR","items":3,"note":"` +
	strings.Repeat("x", 150) + `"}`

// Setup implements harness.Scenario: it stores the document under a key of
// the run's own, and as a read-model document through redisstore.
func (Scenario) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	rdb, err := env.Redis(ctx)
	if err != nil {
		return nil, err
	}
	key := env.KeyPrefix("query") + "order"
	if err := rdb.Set(ctx, key, document, 0).Err(); err != nil {
		return nil, fmt.Errorf("querybench: set %s: %w", key, err)
	}
	prefix := env.KeyPrefix("query-rm")
	store, err := redisstore.New(rdb, &redisstore.Options{Prefix: prefix})
	if err != nil {
		return nil, err
	}
	ns := readmodel.Namespace{Projection: "orders", Version: "1"}
	const id = "order-1"
	if _, err := store.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{{
		ID: id, Revision: readmodel.Revision{Commit: 812, Sequence: 4}, Data: []byte(document),
	}}}); err != nil {
		return nil, fmt.Errorf("querybench: store the document: %w", err)
	}
	// The key redisstore keeps the document in (adapters/redisstore/keys.go:
	// <prefix>{<projection>:<version>:<tenant>}:d:<id>, none of these
	// fields needing escapes): a hash with the revision in "r" and the
	// document in "v".
	docKey := prefix + "{orders:1:}:d:" + id
	if n, err := rdb.Exists(ctx, docKey).Result(); err != nil || n != 1 {
		return nil, fmt.Errorf("querybench: redisstore's document key %q not found (%d, %v): has the key layout changed?", docKey, n, err)
	}
	view := orderModel.View(readmodel.ReadOnly(store), ns)
	want, err := orderModel.Decode(readmodel.Document{Data: []byte(document)})
	if err != nil {
		return nil, err
	}
	eventfold := func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		return harness.Drive(ctx, 1, b, func(ctx context.Context, _ int) (int, error) {
			o, err := view.Get(ctx, id)
			if err != nil {
				return 0, fmt.Errorf("View.Get: %w", err)
			}
			if o != want {
				return 0, fmt.Errorf("View.Get: %+v, want %+v", o, want)
			}
			return 1, nil
		})
	}
	hmget := func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		return harness.Drive(ctx, 1, b, func(ctx context.Context, _ int) (int, error) {
			v, err := rdb.HMGet(ctx, docKey, "r", "v").Result()
			if err != nil {
				return 0, fmt.Errorf("redis HMGET: %w", err)
			}
			if s, _ := v[1].(string); len(s) != len(document) {
				return 0, fmt.Errorf("redis HMGET: %d bytes, want %d", len(s), len(document))
			}
			return 1, nil
		})
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
			Name:      "1 reader",
			Unit:      "queries",
			Eventfold: &harness.Contender{Name: "eventfold View.Get", Run: eventfold},
			Baselines: []harness.Contender{
				{Name: "raw Redis GET", Run: get},
				{Name: "raw Redis HMGET of redisstore's key", Run: hmget},
			},
		}},
		Close: func(ctx context.Context) error {
			if err := rdb.Del(ctx, key).Err(); err != nil && err != redis.Nil {
				return fmt.Errorf("querybench: delete %s: %w", key, err)
			}
			return store.Drop(ctx, ns)
		},
	}, nil
}
