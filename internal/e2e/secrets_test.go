package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	nc "github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// secret is the password every connection string of this file carries. No
// log line and no error may contain it.
const secret = "Sup3r-s3cret_pw"

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// closedPort returns a local TCP address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// noSecret fails the test if what holds the password.
func noSecret(t *testing.T, where string, what string) {
	t.Helper()
	if strings.Contains(what, secret) {
		t.Errorf("%s reveals the password:\n%s", where, what)
	}
}

// TestSecretsStayOutOfErrorsAndLogs makes connections fail, with
// credentials in their URLs, through the adapters' code paths (event store,
// checkpoints, relay, read-model store, broker publishers and subscribers,
// projection source) and checks that neither the returned errors nor the
// logs show the password. The failures are real: a wrong password against
// the PostgreSQL server, and closed ports for the rest.
func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wlogger := watermill.NewSlogLogger(logger)
	var errs []string
	record := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s succeeded; want a connection failure", op)
			return
		}
		errs = append(errs, op+": "+err.Error())
		noSecret(t, op+" error", err.Error())
		noSecret(t, op+" error (%+v)", fmt.Sprintf("%+v", err))
	}

	t.Run("postgres", func(t *testing.T) {
		for _, url := range []string{
			"postgres://no_such_role:" + secret + "@127.0.0.1:5432/eventfold?sslmode=disable&connect_timeout=5",
			"postgres://eventfold:" + secret + "@" + closedPort(t) + "/eventfold?sslmode=disable&connect_timeout=5",
			"postgres://eventfold:" + secret + "@127.0.0.1:notaport/eventfold",
			"host=127.0.0.1 user=eventfold password=" + secret + " dbname=eventfold sslmode=verify-full sslrootcert=/nonexistent.pem",
		} {
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				record("pgxpool.New", err)
				continue
			}
			if err := pgstore.Migrate(ctx, pool, nil); err != nil {
				record("pgstore.Migrate", err)
			} else {
				t.Errorf("pgstore.Migrate with %s succeeded", strings.ReplaceAll(url, secret, "***"))
			}
			store, err := pgstore.New(pool, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = store.Append(ctx, "s", eventstore.Any, []eventstore.Event{{Type: "T", Data: []byte(`{}`)}})
			record("pgstore Append", err)
			_, err = store.ReadAll(ctx, eventstore.Position{}, 10)
			record("pgstore ReadAll", err)
			_, err = pgstore.NewCheckpoints(pool, nil).Load(ctx, "relay")
			record("pgstore Checkpoints.Load", err)
			lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
			_, release, err := pgstore.NewLocker(pool, nil).Lock(lctx, "relay")
			lcancel()
			if err == nil {
				release()
			}
			record("pgstore Locker.Lock", err)

			// A relay and a projection tailing the unreachable store log
			// their retries.
			relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{Store: store, Publisher: discard{}, Topic: "t",
				Checkpoints: pgstore.NewCheckpoints(pool, nil), Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			runner, err := projection.NewRunner(projection.Config{Projection: tallyProjection(), Source: projection.LogSource(store, nil),
				Store: readmodelStoreFor(t, "redis://:"+secret+"@"+closedPort(t)+"/0"), Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			rctx, rcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); relay.Run(rctx) }()  //nolint:errcheck
			go func() { defer wg.Done(); runner.Run(rctx) }() //nolint:errcheck
			wg.Wait()
			rcancel()
			noSecret(t, "projection status", fmt.Sprintf("%+v", runner.Status()))
			pool.Close()
		}
	})

	t.Run("redis", func(t *testing.T) {
		for _, url := range []string{
			"redis://:" + secret + "@" + closedPort(t) + "/0",
			"redis://user:" + secret + "@" + closedPort(t) + "/0",
			"rediss://:" + secret + "@" + closedPort(t) + "/0",
		} {
			rm := readmodelStoreFor(t, url)
			ns := readmodel.Namespace{Projection: "p"}
			_, err := rm.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: "d", Revision: readmodel.Revision{Sequence: 1}, Data: []byte(`{}`)}}})
			record("redisstore Apply", err)
			_, err = rm.Get(ctx, ns, "d")
			record("redisstore Get", err)
			record("redisstore Drop", rm.Drop(ctx, ns))
			record("projection.WaitFor", projection.WaitFor(shortCtx(ctx), rm, "p", "", eventstore.Position{Commit: 1}))
		}
		// Not checked here: redis.ParseURL's own error quotes the whole URL,
		// password included, so code that parses a URL must not wrap that
		// error (examples/bank/app does not; its test is in
		// examples/bank/httpapi/secrets_test.go).
	})

	t.Run("nats", func(t *testing.T) {
		url := "nats://user:" + secret + "@" + closedPort(t)
		_, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: url, Marshaler: &wmnats.NATSMarshaler{},
			NatsOptions: []nc.Option{nc.Timeout(time.Second)}}, wlogger)
		record("nats publisher", err)
		sub, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{URL: url, Unmarshaler: &wmnats.NATSMarshaler{},
			NatsOptions: []nc.Option{nc.Timeout(time.Second)}}, wlogger)
		if err == nil {
			_, err = watermillbus.NewSource(sub, "t", nil).Open(shortCtx(ctx), eventstore.Position{})
			sub.Close()
		}
		record("nats subscriber and source", err)
	})

	t.Run("amqp", func(t *testing.T) {
		url := "amqp://guest:" + secret + "@" + closedPort(t) + "/"
		cfg := amqp.NewDurableQueueConfig(url)
		cfg.Connection.Reconnect = nil
		_, err := amqp.NewPublisher(cfg, wlogger)
		record("amqp publisher", err)
		_, err = amqp.NewSubscriber(cfg, wlogger)
		record("amqp subscriber", err)
	})

	noSecret(t, "the logs", logs.String())
	if testing.Verbose() {
		t.Logf("errors:\n%s", strings.Join(errs, "\n"))
	}
	if len(logs.String()) == 0 {
		t.Error("nothing was logged: the test did not exercise the logging paths")
	}
}

func shortCtx(ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_ = cancel // ends with the timeout
	return ctx
}

func readmodelStoreFor(t *testing.T, url string) *redisstore.Store {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	opts.DialTimeout = time.Second
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	rm, err := redisstore.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rm
}

// discard is a publisher that is never reached: the relay fails before it
// publishes.
type discard struct{}

func (discard) Publish(string, ...*message.Message) error { return nil }
func (discard) Close() error                              { return nil }
