package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/natsjs"
	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/cli"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"

	"github.com/eventfold/eventfold/examples/bank/domain"
	"github.com/eventfold/eventfold/examples/bank/httpapi"
	"github.com/eventfold/eventfold/examples/bank/process"
	"github.com/eventfold/eventfold/examples/bank/readside"
)

// Modes of a process (see the package documentation).
const (
	ModeAll       = "all"
	ModeAPI       = "api"
	ModeProjector = "projector"
	ModeRelay     = "relay"
)

// Defaults of Config.
const (
	DefaultPostgresURL = "postgres://eventfold:eventfold@127.0.0.1:5432/eventfold?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultNATSURL     = "nats://127.0.0.1:4222"
	DefaultSchema      = "bank"
	DefaultRedisPrefix = "bank:"
	DefaultTopic       = "bank_events"
)

// Config configures a process of the bank. The zero value runs everything
// in one process against the local services.
type Config struct {
	// Mode is ModeAll (default), ModeAPI, ModeProjector or ModeRelay.
	Mode string
	// PostgresURL, RedisURL and NATSURL locate the services. NATS is only
	// used by the relay and the projector.
	PostgresURL, RedisURL, NATSURL string
	// Schema is the PostgreSQL schema of the event store. Default "bank".
	Schema string
	// RedisPrefix starts every Redis key of the read models. Default "bank:".
	RedisPrefix string
	// Topic is the JetStream stream (and subject) carrying the log.
	// Default "bank_events". It may hold letters, digits, '-' and '_'.
	Topic string
	// Wait bounds how long a query waits for a consistency token.
	// Default readside.DefaultWait.
	Wait time.Duration
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Mode, ModeAll)
	def(&c.PostgresURL, DefaultPostgresURL)
	def(&c.RedisURL, DefaultRedisURL)
	def(&c.NATSURL, DefaultNATSURL)
	def(&c.Schema, DefaultSchema)
	def(&c.RedisPrefix, DefaultRedisPrefix)
	def(&c.Topic, DefaultTopic)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// App is one process of the bank: its connections, and the HTTP API and
// background workers its mode asks for.
type App struct {
	cfg     Config
	api     http.Handler
	workers map[string]func(ctx context.Context) error
	closers []func()
}

// New connects to the services the mode needs, migrates the event store's
// schema, and builds the process's parts. Close releases them.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	cfg.setDefaults()
	a := &App{cfg: cfg, workers: map[string]func(context.Context) error{}}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	switch cfg.Mode {
	case ModeAll, ModeAPI, ModeProjector, ModeRelay:
	default:
		return nil, fmt.Errorf("app: unknown mode %q (want all, api, projector or relay)", cfg.Mode)
	}

	pool, err := pgxpool.New(ctx, cfg.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("app: postgres: %w", err)
	}
	a.closers = append(a.closers, pool.Close)
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("app: postgres %s: %w", cli.Redact(cfg.PostgresURL), err)
	}
	pgOpts := &pgstore.Options{Schema: cfg.Schema}
	if err := pgstore.Migrate(ctx, pool, pgOpts); err != nil {
		return nil, fmt.Errorf("app: migrate: %w", err)
	}
	// The console follows a request by its correlation ID; the index is
	// opt-in because every append pays for it.
	if err := pgstore.CreateCorrelationIndex(ctx, pool, pgOpts); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	store, err := pgstore.New(pool, pgOpts)
	if err != nil {
		return nil, fmt.Errorf("app: event store: %w", err)
	}

	if cfg.Mode == ModeRelay {
		pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
			URL:         cfg.NATSURL,
			NatsOptions: []nats.Option{nats.Name("bank-relay")},
			Marshaler:   &wmnats.NATSMarshaler{},
			JetStream:   wmnats.JetStreamConfig{AutoProvision: true, TrackMsgId: true},
		}, watermill.NewSlogLogger(cfg.Logger))
		if err != nil {
			return nil, fmt.Errorf("app: nats publisher: %w", err)
		}
		a.closers = append(a.closers, func() { pub.Close() })
		relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
			Name:        "bank-relay-" + cfg.Schema,
			Store:       store,
			Publisher:   pub,
			Topic:       cfg.Topic,
			Checkpoints: pgstore.NewCheckpoints(pool, pgOpts),
			Locker:      stoppableLocker{pgstore.NewLocker(pool, nil)},
			Logger:      cfg.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("app: relay: %w", err)
		}
		a.workers["relay"] = relay.Run
		return a, nil
	}

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The parser's error quotes the whole URL, password included.
		return nil, fmt.Errorf("app: redis url %s: not a valid redis:// or rediss:// URL", cli.Redact(cfg.RedisURL))
	}
	rdb := redis.NewClient(ropts)
	a.closers = append(a.closers, func() { rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("app: redis %s: %w", ropts.Addr, err)
	}
	readModels, err := redisstore.New(rdb, &redisstore.Options{Prefix: cfg.RedisPrefix})
	if err != nil {
		return nil, fmt.Errorf("app: read-model store: %w", err)
	}

	reg, err := domain.NewRegistry()
	if err != nil {
		return nil, fmt.Errorf("app: registry: %w", err)
	}
	dispatcher, err := newDispatcher(store, reg, cfg.Logger)
	if err != nil {
		return nil, err
	}

	if cfg.Mode == ModeAll || cfg.Mode == ModeAPI {
		q := readside.NewQueries(readModels)
		if cfg.Wait > 0 {
			q.Wait = cfg.Wait
		}
		a.api = httpapi.New(dispatcher, q, cfg.Logger)
	}
	if cfg.Mode == ModeAPI {
		return a, nil
	}

	transfers, err := process.NewTransfers(processConfig(pool, pgOpts, store, reg, dispatcher, cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("app: transfer process: %w", err)
	}
	a.workers["process "+transfers.Name()] = transfers.Run
	projections := readside.Projections(reg)
	var runners []*projection.Runner
	for _, p := range projections {
		var source projection.Source
		if cfg.Mode == ModeAll {
			source = projection.LogSource(store, nil)
		} else {
			sub, err := newSubscriber(ctx, cfg, p.Name())
			if err != nil {
				return nil, err
			}
			a.closers = append(a.closers, func() { sub.Close() })
			source = watermillbus.NewSource(sub, cfg.Topic, nil)
		}
		r, err := projection.NewRunner(projection.Config{
			Projection: p,
			Source:     source,
			Store:      readModels,
			Logger:     cfg.Logger.With("projection", p.Name()),
		})
		if err != nil {
			return nil, fmt.Errorf("app: projection %s: %w", p.Name(), err)
		}
		a.workers["projection "+p.Name()] = r.Run
		runners = append(runners, r)
	}
	if a.api != nil {
		// One process serves the API and runs the projections: its
		// /healthz judges them (projectionops.HealthCheck).
		check, err := projectionops.NewHealthCheck(projectionops.RunnerStatuses(runners...), nil)
		if err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /healthz", check)
		mux.Handle("/", a.api)
		a.api = mux
	}
	return a, nil
}

// Projections returns the bank's projections, for a worker run by package
// eventfold/cli (see cmd/bank).
func Projections(logger *slog.Logger) ([]projection.Config, error) {
	reg, err := domain.NewRegistry()
	if err != nil {
		return nil, fmt.Errorf("app: registry: %w", err)
	}
	var out []projection.Config
	for _, p := range readside.Projections(reg) {
		out = append(out, projection.Config{Projection: p, Logger: logger.With("projection", p.Name())})
	}
	return out, nil
}

// Processes returns the bank's process managers, with the command handlers
// they send to built over store, for a worker run by package eventfold/cli
// (see cmd/bank).
func Processes(pool *pgxpool.Pool, schema string, store *pgstore.Store, logger *slog.Logger) ([]*command.Process, error) {
	reg, err := domain.NewRegistry()
	if err != nil {
		return nil, fmt.Errorf("app: registry: %w", err)
	}
	dispatcher, err := newDispatcher(store, reg, logger)
	if err != nil {
		return nil, err
	}
	transfers, err := process.NewTransfers(processConfig(pool, &pgstore.Options{Schema: schema}, store, reg, dispatcher, logger))
	if err != nil {
		return nil, err
	}
	return []*command.Process{transfers}, nil
}

// processConfig is what every process manager of the bank runs on: the log
// and its position in PostgreSQL, and a lease scoped to the schema so that
// one replica runs it at a time.
func processConfig(pool *pgxpool.Pool, pgOpts *pgstore.Options, store *pgstore.Store, reg *command.Registry, d *command.Dispatcher, logger *slog.Logger) command.ProcessConfig {
	return command.ProcessConfig{
		Store: store, Registry: reg, Commands: d,
		Checkpoints: pgstore.NewCheckpoints(pool, pgOpts),
		Locker:      pgstore.NewLocker(pool, &pgstore.LockOptions{Scope: pgOpts.Schema + "|"}),
		Logger:      logger,
	}
}

// stoppableLocker makes the context of a held lease also end when the
// context passed to Lock ends. pgstore.Locker's lease context ends only when
// the lease is lost or released, so without this a Relay holding the lease
// would not stop when its Run context is cancelled.
type stoppableLocker struct{ watermillbus.Locker }

func (l stoppableLocker) Lock(ctx context.Context, name string) (context.Context, func(), error) {
	held, release, err := l.Locker.Lock(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	held, cancel := context.WithCancel(held)
	stop := context.AfterFunc(ctx, cancel)
	return held, func() { stop(); cancel(); release() }, nil
}

// newSubscriber returns a JetStream subscriber with a durable consumer of its
// own for projection name, so each projection keeps its own place in the
// stream. The consumer is made up front (natsjs.EnsureConsumer) so that it
// outlives the subscription: a consumer nats.go creates at subscribe is
// deleted when the subscription ends, and the next one would deliver the
// whole stream again.
func newSubscriber(ctx context.Context, cfg Config, name string) (*wmnats.Subscriber, error) {
	durable := cfg.Topic + "_" + strings.NewReplacer(".", "_", "*", "_", ">", "_").Replace(name)
	consumer := natsjs.Consumer{Stream: cfg.Topic, Subject: cfg.Topic, Durable: durable, QueueGroup: durable, AckWait: 30 * time.Second}
	conn, err := nats.Connect(cfg.NATSURL, nats.Name("bank-projector-"+name))
	if err != nil {
		return nil, fmt.Errorf("app: nats for %s: %w", name, err)
	}
	js, err := conn.JetStream()
	if err == nil {
		_, err = natsjs.EnsureConsumer(ctx, js, consumer)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("app: jetstream consumer for %s: %w", name, err)
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(conn, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:      &wmnats.NATSMarshaler{},
		QueueGroupPrefix: consumer.QueueGroup,
		AckWaitTimeout:   consumer.AckWait,
		CloseTimeout:     time.Second,
		JetStream: wmnats.JetStreamConfig{
			DurablePrefix:    consumer.Durable,
			SubscribeOptions: consumer.SubscribeOptions(),
		},
	}, watermill.NewSlogLogger(cfg.Logger))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("app: nats subscriber for %s: %w", name, err)
	}
	return sub, nil
}

// newDispatcher returns the command handlers of accounts and transfers,
// routed by command type, encoding events with reg.
func newDispatcher(store *pgstore.Store, reg *command.Registry, logger *slog.Logger) (*command.Dispatcher, error) {
	opts := &command.Options{
		Middleware: []command.Middleware{command.Logging(logger), command.Validate},
		Logger:     logger,
		Refusals:   domain.Refusals(), // refusals replayed under keys match the domain errors
	}
	// An account lives long and takes many commands: load it from a
	// snapshot (every 100 events) rather than from its first event.
	accountOpts := *opts
	accountOpts.Snapshots = &command.Snapshots{Store: store.Snapshots()}
	accounts, err := command.NewHandler(store, reg, domain.Accounts, &accountOpts)
	if err != nil {
		return nil, fmt.Errorf("app: accounts handler: %w", err)
	}
	transfers, err := command.NewHandler(store, reg, domain.Transfers, opts)
	if err != nil {
		return nil, fmt.Errorf("app: transfers handler: %w", err)
	}
	d := new(command.Dispatcher)
	account := func(ctx context.Context, id string, c domain.AccountCommand) (command.Result, error) {
		return accounts.Handle(ctx, domain.AccountStream(id), c)
	}
	transfer := func(ctx context.Context, id string, c domain.TransferCommand) (command.Result, error) {
		return transfers.Handle(ctx, domain.TransferStream(id), c)
	}
	err = errors.Join(
		command.Route(d, func(ctx context.Context, c domain.OpenAccount) (command.Result, error) {
			return account(ctx, c.AccountID, c)
		}),
		command.Route(d, func(ctx context.Context, c domain.Deposit) (command.Result, error) {
			return account(ctx, c.AccountID, c)
		}),
		command.Route(d, func(ctx context.Context, c domain.Withdraw) (command.Result, error) {
			return account(ctx, c.AccountID, c)
		}),
		command.Route(d, func(ctx context.Context, c domain.RequestTransfer) (command.Result, error) {
			return transfer(ctx, c.TransferID, c)
		}),
		command.Route(d, func(ctx context.Context, c domain.CompleteTransfer) (command.Result, error) {
			return transfer(ctx, c.TransferID, c)
		}),
		command.Route(d, func(ctx context.Context, c domain.FailTransfer) (command.Result, error) {
			return transfer(ctx, c.TransferID, c)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("app: routes: %w", err)
	}
	return d, nil
}

// Handler returns the HTTP API, or nil when the mode serves none.
func (a *App) Handler() http.Handler { return a.api }

// Run runs the background workers of the mode (projections, process
// manager, relay) until ctx ends, then returns nil. A worker that stops
// with an error ends Run with that error. Run lasts until ctx ends even
// when the mode has no workers (api) or they have all retired, so that a
// process serving the API can wait on it.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for name, run := range a.workers {
		wg.Go(func() {
			err := run(ctx)
			switch {
			case err == nil, ctx.Err() != nil:
				return
			case errors.Is(err, projection.ErrRetired):
				a.cfg.Logger.Info("worker retired: a newer version is active", "worker", name)
				return
			}
			once.Do(func() { first = fmt.Errorf("app: %s: %w", name, err) })
			cancel()
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	<-ctx.Done()
	return nil
}

// Close releases the connections.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}
