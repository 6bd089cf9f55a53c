package projbench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/orders"
	"github.com/eventfold/eventfold/eventstore"
)

// Backlogs fills and keeps the event backlogs the projection scenarios
// catch up, one PostgreSQL schema per size, filled once per run and
// shared by the scenarios that ask for the same size.
type Backlogs struct {
	mu   sync.Mutex
	done map[backlogKey]*Backlog
}

// backlogKey names a backlog: its size, and every how many events one is
// of the type the orders projection handles (1: all of them).
type backlogKey struct{ events, every int }

// NewBacklogs returns an empty set of backlogs.
func NewBacklogs() *Backlogs { return &Backlogs{done: map[backlogKey]*Backlog{}} }

// Backlog is a pgstore schema holding Events events.
type Backlog struct {
	Schema  string
	Events  int
	Streams int
	Store   *pgstore.Store
	// Head is the position of the last event.
	Head eventstore.Position
}

// streamsFor spreads n events over n/10 streams (at least one), written
// round-robin: consecutive events belong to different streams, so a batch
// of up to Streams events touches as many documents.
func streamsFor(n int) int { return max(n/10, 1) }

func streamID(i int) string { return fmt.Sprintf("order-%07d", i) }

// Get returns the backlog of n events, filling it on first use: the events
// with one COPY into pgstore's events table (one transaction, so one
// commit position), then the matching streams rows.
func (b *Backlogs) Get(ctx context.Context, env *harness.Env, n int) (*Backlog, error) {
	return b.get(ctx, env, n, 1)
}

// OtherType is the type of the events of a mixed backlog that the orders
// projection does not handle.
const OtherType = "OrderViewed"

// GetMixed returns the backlog of n events of which one in every is of
// the type the orders projection handles and the rest of OtherType, with
// the same data, filling it on first use.
func (b *Backlogs) GetMixed(ctx context.Context, env *harness.Env, n, every int) (*Backlog, error) {
	return b.get(ctx, env, n, every)
}

func (b *Backlogs) get(ctx context.Context, env *harness.Env, n, every int) (*Backlog, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := backlogKey{n, every}
	if bl, ok := b.done[key]; ok {
		return bl, nil
	}
	pool, err := env.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("backlog-%d", n)
	if every > 1 {
		name = fmt.Sprintf("backlog-%d-mixed-%d", n, every)
	}
	schema, err := env.Schema(ctx, name)
	if err != nil {
		return nil, err
	}
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		return nil, fmt.Errorf("projbench: migrate: %w", err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		return nil, err
	}
	s := streamsFor(n)
	if err := fill(ctx, pool, schema, env.RunID(), n, s, every); err != nil {
		return nil, err
	}
	head, err := store.Head(ctx)
	if err != nil {
		return nil, err
	}
	bl := &Backlog{Schema: schema, Events: n, Streams: s, Store: store, Head: head}
	b.done[key] = bl
	return bl, nil
}

func fill(ctx context.Context, pool *pgxpool.Pool, schema, runID string, n, streams, every int) error {
	meta, err := json.Marshal(eventstore.Metadata{
		CorrelationID: "0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2e",
		CausationID:   "0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2f",
	})
	if err != nil {
		return err
	}
	var idPrefix [8]byte
	copy(idPrefix[:], runID) // event IDs differ between runs
	i := 0
	row := make([]any, 7)
	events := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= n {
			return nil, nil
		}
		stream := i % streams
		var id pgtype.UUID
		copy(id.Bytes[:8], idPrefix[:])
		binary.BigEndian.PutUint64(id.Bytes[8:], uint64(i))
		id.Bytes[6] = id.Bytes[6]&0x0f | 0x40 // a version-4 shape
		id.Bytes[8] = id.Bytes[8]&0x3f | 0x80
		id.Valid = true
		data, err := json.Marshal(orders.NewEvent(streamID(stream), "SKU-000123", 3))
		if err != nil {
			return nil, err
		}
		typ := orders.EventType
		if i%every != 0 {
			typ = OtherType
		}
		row[0], row[1], row[2], row[3], row[4], row[5], row[6] =
			streamID(stream), int64(i/streams+1), id, typ, eventstore.ContentTypeJSON, data, json.RawMessage(meta)
		i++
		return row, nil
	})
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{schema, "events"},
		[]string{"stream_id", "version", "event_id", "type", "content_type", "data", "metadata"}, events); err != nil {
		return fmt.Errorf("projbench: copy events: %w", err)
	}
	j := 0
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if j >= streams || j >= n {
			return nil, nil
		}
		r := []any{streamID(j)}
		j++
		return r, nil
	})
	// A stream's row only names it; its version is its last event's.
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{schema, "streams"}, []string{"stream_id"}, rows); err != nil {
		return fmt.Errorf("projbench: copy streams: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, "ANALYZE "+pgx.Identifier{schema, "events"}.Sanitize())
	return err
}
