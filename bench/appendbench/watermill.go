package appendbench

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// watermillTarget is the peer: watermill-sql's PostgreSQL publisher with
// its default schema adapter, over the same pgx pool, publishing every
// writer's messages to one topic. One Publish of n messages is one n-row
// INSERT.
type watermillTarget struct {
	pool      *pgxpool.Pool
	schema    string
	events    int
	publisher *wsql.Publisher
}

const topic = "events"

func newWatermill(ctx context.Context, pool *pgxpool.Pool, schema string, events int) (*watermillTarget, error) {
	adapter := wsql.DefaultPostgreSQLSchema{
		GenerateMessagesTableName: func(topic string) string {
			return pgx.Identifier{schema, "watermill_" + topic}.Sanitize()
		},
	}
	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(pool), wsql.PublisherConfig{
		SchemaAdapter:        adapter,
		AutoInitializeSchema: true,
	}, watermill.NopLogger{})
	if err != nil {
		return nil, fmt.Errorf("appendbench: watermill publisher: %w", err)
	}
	t := &watermillTarget{pool: pool, schema: schema, events: events, publisher: pub}
	// The first Publish creates the topic's table.
	if err := t.publish(ctx); err != nil {
		_ = pub.Close()
		return nil, fmt.Errorf("appendbench: create watermill table: %w", err)
	}
	return t, nil
}

func (t *watermillTarget) reset(ctx context.Context) error {
	return truncate(ctx, t.pool, t.schema, "watermill_"+topic)
}

func (t *watermillTarget) writer() (func(context.Context) error, error) {
	return t.publish, nil
}

func (t *watermillTarget) publish(ctx context.Context) error {
	msgs := make([]*message.Message, t.events)
	for i := range msgs {
		m := message.NewMessage(watermill.NewUUID(), payload)
		for k, v := range metaMap {
			m.Metadata.Set(k, v)
		}
		m.SetContext(ctx)
		msgs[i] = m
	}
	if err := t.publisher.Publish(topic, msgs...); err != nil {
		return fmt.Errorf("watermill publish: %w", err)
	}
	return nil
}

func (t *watermillTarget) close() error {
	if err := t.publisher.Close(); err != nil {
		return fmt.Errorf("appendbench: close watermill publisher: %w", err)
	}
	return nil
}
