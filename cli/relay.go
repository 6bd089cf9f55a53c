package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
)

func relayCommand(cfg *config) *cobra.Command {
	var topic, name string
	var perMessage int
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Forward the event store's global log to NATS JetStream until interrupted",
		Long: `Forward the event store's global log, in order, to a NATS JetStream subject
(--topic), publishing each batch before saving the relay's checkpoint in
PostgreSQL. Run two or more for failover: a PostgreSQL advisory lock named
after --name and the schema keeps exactly one of them forwarding. --events-per-message above 1
packs consecutive events into batch envelopes; upgrade every consumer before
raising it (docs/operations.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if topic == "" {
				return fmt.Errorf("--topic: %w: name the JetStream stream to publish to", errUsage)
			}
			if perMessage < 1 {
				return fmt.Errorf("--events-per-message %d: %w: it must be at least 1", perMessage, errUsage)
			}
			ctx := cmd.Context()
			pool, err := cfg.postgres(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			opts := &pgstore.Options{Schema: cfg.schema}
			store, err := pgstore.New(pool, opts)
			if err != nil {
				return err
			}
			logger, err := cfg.logger(cmd, slog.LevelInfo)
			if err != nil {
				return err
			}
			// Every tenant's events, from the standby when one is set.
			var log eventstore.LogReader = store.AllTenants()
			replica, closeReplica, err := cfg.replica(ctx, store, logger)
			if err != nil {
				return err
			}
			defer closeReplica()
			if replica != nil {
				log = replica.AllTenants()
			}
			pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
				URL:         cfg.natsURL,
				NatsOptions: []nats.Option{nats.Name("eventfold-relay-" + name)},
				Marshaler:   &wmnats.NATSMarshaler{},
				JetStream:   wmnats.JetStreamConfig{AutoProvision: true, TrackMsgId: true},
			}, watermill.NewSlogLogger(logger))
			if err != nil {
				return fmt.Errorf("nats: %w", err)
			}
			defer pub.Close()
			relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
				Name:        name,
				Store:       log,
				Publisher:   pub,
				Topic:       topic,
				Checkpoints: pgstore.NewCheckpoints(pool, opts),

				EventsPerMessage: perMessage,
				// Advisory locks belong to the whole database: scope the
				// lease to the schema, whose log and checkpoint it guards.
				Locker: cancellingLocker{pgstore.NewLocker(pool, &pgstore.LockOptions{Scope: cfg.schema + "|"})},
				Logger: logger,
			})
			if err != nil {
				return err
			}
			logger.Info("relay starting", "name", name, "topic", topic, "schema", cfg.schema)
			err = relay.Run(ctx)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&topic, "topic", os.Getenv("EVENTFOLD_TOPIC"), "JetStream stream and subject to publish the log to (env EVENTFOLD_TOPIC)")
	cmd.Flags().StringVar(&name, "name", "relay", "name of the relay's lease and checkpoint")
	cmd.Flags().IntVar(&perMessage, "events-per-message", 1, "events packed into one message (batch envelopes; 1 sends one message per event, readable by older consumers)")
	return cmd
}

// cancellingLocker makes a held lease's context also end when the context
// passed to Lock ends, so the relay stops on interrupt: a pgstore.Locker
// lease ends only when it is lost or released.
type cancellingLocker struct{ watermillbus.Locker }

func (l cancellingLocker) Lock(ctx context.Context, name string) (context.Context, func(), error) {
	held, release, err := l.Locker.Lock(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	held, cancel := context.WithCancel(held)
	stop := context.AfterFunc(ctx, cancel)
	return held, func() { stop(); cancel(); release() }, nil
}
