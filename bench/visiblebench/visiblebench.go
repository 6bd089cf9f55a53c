// Package visiblebench holds benchmark scenario 4: how long from sending a
// command until the read model in Redis shows its effect, at fixed offered
// loads (an open loop, harness.Pace), and the highest load each contender
// sustains within a p99 bound (Search).
//
// eventfold's path is in-process: command.Handler.Handle (keeping the
// streams' states, Options.CachedStreams) appends through pgstore, a
// projection.Runner tails the log with LogSource and writes through
// redisstore, and the caller waits on the token Handle returned with one
// shared projection.Waiter that follows the Runner. The peer is
// watermill-sql: a Publisher writes a message to its PostgreSQL topic
// table, a Subscriber (default poll interval, then a tuned one) delivers it
// to a handler that writes the same document to Redis and then tells the
// waiting sender.
package visiblebench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/orders"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/projection"
)

// Scenario is scenario 4. It implements harness.Scenario.
type Scenario struct {
	// Loads are the offered loads, commands per second, one cell each.
	Loads []float64
	// Tuned is the tuned poll interval of the watermill-sql subscriber.
	// Zero means 10ms.
	Tuned time.Duration
	// Search adds a cell with the highest load each contender sustains.
	Search Search
}

var _ harness.Scenario = Scenario{}

// ID implements harness.Scenario.
func (Scenario) ID() int { return 4 }

// Name implements harness.Scenario.
func (Scenario) Name() string { return "visible" }

// Title implements harness.Scenario.
func (Scenario) Title() string {
	return "command to read model visible (Redis), at fixed offered loads"
}

// streams is how many order streams the commands are spread over.
const streams = 1000

// timeout bounds one command's wait for visibility; the drain after each
// window waits as long.
const timeout = 5 * time.Second

var seq atomic.Int64

// Setup implements harness.Scenario.
func (s Scenario) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	tuned := s.Tuned
	if tuned <= 0 {
		tuned = 10 * time.Millisecond
	}
	pool, err := env.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	rdb, err := env.Redis(ctx)
	if err != nil {
		return nil, err
	}
	schema, err := env.Schema(ctx, s.Name())
	if err != nil {
		return nil, err
	}
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		return nil, fmt.Errorf("visiblebench: migrate: %w", err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		return nil, err
	}
	reg, err := orders.NewRegistry()
	if err != nil {
		return nil, err
	}

	eventfold := func(rate float64) func(context.Context, harness.Budget) (harness.Sample, error) {
		return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
			if _, err := pool.Exec(ctx, "TRUNCATE "+pgx.Identifier{schema, "events"}.Sanitize()+", "+pgx.Identifier{schema, "streams"}.Sanitize()); err != nil {
				return harness.Sample{}, err
			}
			// A server that owns its streams keeps their states, one per
			// stream; a new one for the emptied tables.
			h, err := command.NewHandler(store, reg, orders.Decider, &command.Options{CachedStreams: streams})
			if err != nil {
				return harness.Sample{}, err
			}
			prefix := env.KeyPrefix(fmt.Sprintf("visible-%d", seq.Add(1)))
			defer unlinkPrefix(context.WithoutCancel(ctx), rdb, prefix)
			rm, err := redisstore.New(rdb, &redisstore.Options{Prefix: prefix})
			if err != nil {
				return harness.Sample{}, err
			}
			runner, err := projection.NewRunner(projection.Config{
				Projection: orders.NewProjection("1", true),
				Source:     projection.LogSource(store, nil),
				Store:      rm,
			})
			if err != nil {
				return harness.Sample{}, err
			}
			rctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- runner.Run(rctx) }()
			defer func() { stop(); <-done }()
			if err := waitActive(ctx, rm); err != nil {
				return harness.Sample{}, err
			}
			// One Waiter for all callers, as a server keeps one per
			// projection, following the Runner of the same process.
			waiter := projection.NewWaiter(rm, orders.ProjectionName, "", &projection.WaiterOptions{Runner: runner})
			smp, err := harness.Pace(ctx, harness.PaceOptions{Rate: rate, Drain: timeout}, b, func(ctx context.Context, i int) (int, error) {
				ctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				res, err := h.Handle(ctx, "order-"+strconv.Itoa(i%streams), orders.AddItem{SKU: "SKU-000123", Quantity: 3})
				if err == nil {
					err = waiter.WaitFor(ctx, res.Position)
				}
				if err != nil && ctx.Err() != nil {
					return 0, harness.ErrTimedOut
				}
				if err != nil {
					return 0, err
				}
				return 1, nil
			})
			if err == nil {
				if st := runner.Status(); st.LastError != "" || st.Fault != nil {
					err = fmt.Errorf("visiblebench: runner: %s %+v", st.LastError, st.Fault)
				}
			}
			return smp, err
		}
	}

	peers := map[time.Duration]*peer{}
	for _, pi := range []time.Duration{0, tuned} {
		p, err := newPeer(ctx, pool, rdb, schema, env.KeyPrefix(fmt.Sprintf("visible-wm-%d", pi.Milliseconds())), pi)
		if err != nil {
			for _, q := range peers {
				q.close()
			}
			return nil, err
		}
		peers[pi] = p
	}
	plan := &harness.Plan{Close: func(ctx context.Context) error {
		var errs []error
		for _, p := range peers {
			errs = append(errs, p.close())
			errs = append(errs, unlinkPrefix(ctx, rdb, p.prefix))
		}
		return errors.Join(errs...)
	}}
	for _, rate := range s.Loads {
		plan.Cells = append(plan.Cells, harness.Cell{
			Name:      fmt.Sprintf("%s commands/s offered", strconv.FormatFloat(rate, 'f', -1, 64)),
			Unit:      "commands",
			Eventfold: &harness.Contender{Name: "eventfold Handle → pgstore → Runner → redisstore, WaitFor", Run: eventfold(rate)},
			Baselines: []harness.Contender{
				{Name: "watermill-sql Publish → Subscriber (poll 1s, default) → Redis", Run: peers[0].run(rate)},
				{Name: fmt.Sprintf("watermill-sql Publish → Subscriber (poll %s) → Redis", tuned), Run: peers[tuned].run(rate)},
			},
		})
	}
	if s.Search.P99 > 0 {
		plan.Cells = append(plan.Cells, harness.Cell{
			Name:      fmt.Sprintf("highest load sustained with p99 ≤ %s", s.Search.P99),
			Unit:      "commands",
			Eventfold: &harness.Contender{Name: "eventfold Handle → pgstore → Runner → redisstore, WaitFor", Run: s.Search.search(eventfold)},
			Baselines: []harness.Contender{
				{Name: fmt.Sprintf("watermill-sql Publish → Subscriber (poll %s) → Redis", tuned), Run: s.Search.search(peers[tuned].run)},
			},
		})
	}
	return plan, nil
}

// waitActive waits until the Runner has caught up with the (empty) log
// and serves readers.
func waitActive(ctx context.Context, rm *redisstore.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if _, err := projection.Active(ctx, rm, orders.ProjectionName, ""); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("visiblebench: the projection did not become active: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// peer is watermill-sql's publisher and subscriber on one topic of their
// own, with a handler that writes each message's document to Redis and
// then wakes the sender.
type peer struct {
	pub     *wsql.Publisher
	sub     *wsql.Subscriber
	prefix  string
	topic   string
	waiters sync.Map // message UUID → chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
	errMu   sync.Mutex
	err     error
}

func newPeer(ctx context.Context, pool *pgxpool.Pool, rdb *redis.Client, schema, prefix string, poll time.Duration) (*peer, error) {
	topic := "visible_" + strconv.FormatInt(poll.Milliseconds(), 10)
	adapter := wsql.DefaultPostgreSQLSchema{
		GenerateMessagesTableName: func(topic string) string {
			return pgx.Identifier{schema, "watermill_" + topic}.Sanitize()
		},
	}
	offsets := wsql.DefaultPostgreSQLOffsetsAdapter{
		GenerateMessagesOffsetsTableName: func(topic string) string {
			return pgx.Identifier{schema, "watermill_offsets_" + topic}.Sanitize()
		},
	}
	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(pool), wsql.PublisherConfig{SchemaAdapter: adapter, AutoInitializeSchema: true}, watermill.NopLogger{})
	if err != nil {
		return nil, err
	}
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(pool), wsql.SubscriberConfig{
		ConsumerGroup:    "bench",
		PollInterval:     poll, // zero: the default, 1s
		SchemaAdapter:    adapter,
		OffsetsAdapter:   offsets,
		InitializeSchema: true,
	}, watermill.NopLogger{})
	if err != nil {
		_ = pub.Close()
		return nil, err
	}
	p := &peer{pub: pub, sub: sub, prefix: prefix, topic: topic, done: make(chan struct{})}
	if err := sub.SubscribeInitialize(topic); err != nil {
		_ = p.close()
		return nil, err
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	msgs, err := sub.Subscribe(sctx, topic)
	if err != nil {
		stop()
		_ = p.close()
		return nil, err
	}
	go func() {
		defer close(p.done)
		for msg := range msgs {
			id := msg.Metadata.Get("stream")
			v, _ := strconv.ParseInt(msg.Metadata.Get("version"), 10, 64)
			err := rdb.HSet(sctx, prefix+"{orders:wm:}:d:"+id, "r", fmt.Sprintf("%032x", v), "v", orders.Doc(id, v)).Err()
			if err != nil {
				if sctx.Err() == nil {
					p.errMu.Lock()
					p.err = err
					p.errMu.Unlock()
				}
				msg.Nack()
				continue
			}
			msg.Ack()
			if ch, ok := p.waiters.LoadAndDelete(msg.UUID); ok {
				close(ch.(chan struct{}))
			}
		}
	}()
	return p, nil
}

func (p *peer) run(rate float64) func(context.Context, harness.Budget) (harness.Sample, error) {
	return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
		var (
			version atomic.Int64
			payload = orders.NewEvent("0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d30", "SKU-000123", 3)
		)
		data, err := json.Marshal(payload)
		if err != nil {
			return harness.Sample{}, err
		}
		smp, err := harness.Pace(ctx, harness.PaceOptions{Rate: rate, Drain: timeout}, b, func(ctx context.Context, i int) (int, error) {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			m := message.NewMessage(watermill.NewUUID(), data)
			m.Metadata.Set("stream", "order-"+strconv.Itoa(i%streams))
			m.Metadata.Set("version", strconv.FormatInt(version.Add(1), 10))
			ch := make(chan struct{})
			p.waiters.Store(m.UUID, ch)
			defer p.waiters.Delete(m.UUID)
			if err := p.pub.Publish(p.topic, m); err != nil {
				if ctx.Err() != nil {
					return 0, harness.ErrTimedOut
				}
				return 0, err
			}
			select {
			case <-ch:
				return 1, nil
			case <-ctx.Done():
				return 0, harness.ErrTimedOut
			}
		})
		p.errMu.Lock()
		defer p.errMu.Unlock()
		if err == nil && p.err != nil {
			err = fmt.Errorf("visiblebench: watermill handler: %w", p.err)
		}
		return smp, err
	}
}

func (p *peer) close() error {
	if p.stop != nil {
		p.stop()
	}
	err := errors.Join(p.sub.Close(), p.pub.Close())
	if p.stop != nil {
		<-p.done
	}
	return err
}

// unlinkPrefix removes every key under prefix.
func unlinkPrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
