package projbench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/bench/orders"
	"github.com/eventfold/eventfold/projection"
)

// batchSize is the projection's batch, and the raw contenders' page and
// pipeline size: the Runner's default.
const batchSize = 500

// catchUp runs a Runner of p over the backlog into Redis under prefix
// until it has applied the backlog's last event, and returns how long that
// took. With waitActive it also waits until readers are switched to p's
// version (a rebuild's switch-over).
func catchUp(ctx context.Context, bl *Backlog, rdb redis.UniversalClient, prefix string, p *projection.Projection, waitActive bool) (time.Duration, error) {
	return catchUpFrom(ctx, projection.LogSource(bl.Store, nil), bl, rdb, prefix, p, waitActive)
}

// catchUpFrom is catchUp reading the backlog through src.
func catchUpFrom(ctx context.Context, src projection.Source, bl *Backlog, rdb redis.UniversalClient, prefix string, p *projection.Projection, waitActive bool) (time.Duration, error) {
	rm, err := redisstore.New(rdb, &redisstore.Options{Prefix: prefix})
	if err != nil {
		return 0, err
	}
	r, err := projection.NewRunner(projection.Config{
		Projection: p,
		Source:     src,
		Store:      rm,
		BatchSize:  batchSize,
	})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return 0, fmt.Errorf("projbench: runner stopped: %v", err)
		case <-tick.C:
		}
		st := r.Status()
		if st.State == projection.StateFaulted {
			return 0, fmt.Errorf("projbench: runner faulted: %+v", st.Fault)
		}
		if st.Position.Before(bl.Head) {
			continue
		}
		if waitActive {
			ns, err := projection.Active(ctx, rm, p.Name(), "")
			if err != nil || ns.Version != p.Version() {
				continue
			}
		}
		took := time.Since(start)
		cancel()
		<-done
		return took, nil
	}
}

// docKey is the key redisstore keeps a document of the orders projection
// at version in (adapters/redisstore/keys.go; the fields need no escapes).
func docKey(prefix, version, id string) string {
	return prefix + "{" + orders.ProjectionName + ":" + version + ":}:d:" + id
}

// revision encodes a revision as redisstore stores it.
func revision(commit, seq uint64) string { return fmt.Sprintf("%016x%016x", commit, seq) }

// rawWrite writes, for every event of the backlog in log order, the
// document the projection would write, as redisstore would (HSET of
// revision and data), pipelined batchSize commands per round trip. It
// reads nothing: this is Redis's own limit for the same keys.
func rawWrite(ctx context.Context, bl *Backlog, rdb redis.UniversalClient, prefix string) (time.Duration, error) {
	start := time.Now()
	pipe := rdb.Pipeline()
	for i := range bl.Events {
		stream := i % bl.Streams
		id := streamID(stream)
		version := int64(i/bl.Streams + 1)
		pipe.HSet(ctx, docKey(prefix, "raw", id), "r", revision(bl.Head.Commit, uint64(i+1)), "v", orders.Doc(id, version))
		if pipe.Len() == batchSize || i == bl.Events-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				return 0, fmt.Errorf("projbench: raw pipeline: %w", err)
			}
		}
	}
	return time.Since(start), nil
}

// rawProject is a hand-written projector: it pages through the events
// table with keyset pagination (batchSize rows per statement), decodes
// each event and writes its document as rawWrite does, one pipeline per
// page. No checkpoint, no version guard, no atomicity.
func rawProject(ctx context.Context, bl *Backlog, pool *pgxpool.Pool, rdb redis.UniversalClient, prefix string) (time.Duration, error) {
	sql := "SELECT transaction_id, global_position, stream_id, version, data FROM " + pgx.Identifier{bl.Schema, "events"}.Sanitize() +
		" WHERE (transaction_id, global_position) > ($1::text::xid8, $2) ORDER BY transaction_id, global_position LIMIT " + strconv.Itoa(batchSize)
	start := time.Now()
	var (
		txid uint64
		pos  int64
		n    int
	)
	pipe := rdb.Pipeline()
	for {
		rows, err := pool.Query(ctx, sql, strconv.FormatUint(txid, 10), pos)
		if err != nil {
			return 0, err
		}
		got := 0
		for rows.Next() {
			var (
				stream  string
				version int64
				data    []byte
				e       orders.ItemAdded
			)
			if err := rows.Scan(&txid, &pos, &stream, &version, &data); err != nil {
				rows.Close()
				return 0, err
			}
			if err := json.Unmarshal(data, &e); err != nil {
				rows.Close()
				return 0, err
			}
			doc, err := json.Marshal(orders.Order{ID: stream, Items: 3 * int(version), Lines: int(version), LastSKU: e.SKU, Version: version})
			if err != nil {
				rows.Close()
				return 0, err
			}
			pipe.HSet(ctx, docKey(prefix, "raw", stream), "r", revision(txid, uint64(pos)), "v", doc)
			got++
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if got == 0 {
			break
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, fmt.Errorf("projbench: raw pipeline: %w", err)
		}
		n += got
	}
	if n != bl.Events {
		return 0, fmt.Errorf("projbench: raw projector read %d events, want %d", n, bl.Events)
	}
	return time.Since(start), nil
}

// unlinkPrefix removes every key under prefix.
func unlinkPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
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
