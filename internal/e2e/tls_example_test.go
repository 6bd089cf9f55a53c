package e2e_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log"
	"os"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/jackc/pgx/v5/pgxpool"
	nc "github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
)

// Example_tls connects every adapter over TLS, through each client's own
// options (docs/operations-tls.md). It is compiled, not run.
func Example_tls() {
	ctx := context.Background()
	ca, err := os.ReadFile("/etc/eventfold/ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	tlsConfig := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}

	// PostgreSQL: sslmode=verify-full in the URL does it all; a tls.Config
	// set on the parsed config overrides the file-based settings.
	pgConfig, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL") + "?sslmode=verify-full&sslrootcert=/etc/eventfold/ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	pgConfig.ConnConfig.TLSConfig = tlsConfig.Clone()
	pgConfig.ConnConfig.TLSConfig.ServerName = pgConfig.ConnConfig.Host
	pool, err := pgxpool.NewWithConfig(ctx, pgConfig)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	events, err := pgstore.New(pool, nil)
	if err != nil {
		log.Fatal(err)
	}
	_ = events

	// Redis: a rediss:// URL turns TLS on; set TLSConfig for your own CA.
	redisOpts, err := redis.ParseURL("rediss://redis.internal:6380/0")
	if err != nil {
		log.Fatal(err)
	}
	redisOpts.TLSConfig = tlsConfig.Clone()
	redisOpts.TLSConfig.ServerName = "redis.internal"
	rc := redis.NewClient(redisOpts)
	defer rc.Close()
	readModels, err := redisstore.New(rc, nil)
	if err != nil {
		log.Fatal(err)
	}
	_ = readModels

	logger := watermill.NopLogger{}

	// NATS: tls:// URL, plus nats.go options passed through NatsOptions.
	natsPub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL:         "tls://nats.internal:4222",
		Marshaler:   &wmnats.NATSMarshaler{},
		NatsOptions: []nc.Option{nc.Secure(tlsConfig.Clone()), nc.RootCAs("/etc/eventfold/ca.pem")},
	}, logger)
	if err != nil {
		log.Fatal(err)
	}
	defer natsPub.Close()

	// RabbitMQ: amqps:// URL, and the tls.Config in the connection config.
	amqpConfig := amqp.NewDurableQueueConfig("amqps://user:password@rabbit.internal:5671/")
	amqpConfig.Connection.TLSConfig = tlsConfig.Clone()
	amqpPub, err := amqp.NewPublisher(amqpConfig, logger)
	if err != nil {
		log.Fatal(err)
	}
	defer amqpPub.Close()
}
