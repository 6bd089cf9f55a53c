package capacitybench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/readmodel"
)

// batchSize is a projection's batch (the Runner's default) and the raw
// contenders' pipeline.
const batchSize = 500

// account is the document measured: the shape of the bank example's
// accounts read model, about 250 bytes of JSON.
type account struct {
	ID             string    `json:"id"`
	Owner          string    `json:"owner"`
	Balance        int64     `json:"balance"`
	OverdraftLimit int64     `json:"overdraft_limit"`
	Available      int64     `json:"available"`
	Version        int64     `json:"version"`
	OpenedAt       time.Time `json:"opened_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// accountModel indexes accounts by owner, as the bank example does.
var accountModel = readmodel.Model[account]{
	Indexes: []readmodel.Index[account]{
		readmodel.By("by-owner", func(a account) readmodel.Value { return readmodel.String(a.Owner) }),
	},
}

var opened = time.Date(2026, 1, 2, 10, 11, 12, 123456789, time.UTC)

// accountID names document n of writer w like a UUID does (36 bytes).
func accountID(w, n int) string {
	return fmt.Sprintf("0193a5f2-7c1e-7b4a-%04x-%012x", w, n)
}

func newAccount(w, n int) account {
	return account{
		ID: accountID(w, n), Owner: fmt.Sprintf("customer-%04x-%08x", w, n/2), // two accounts per owner
		Balance: 125_000 + int64(n%1000), OverdraftLimit: 50_000, Available: 175_000 + int64(n%1000), Version: 42,
		OpenedAt: opened, UpdatedAt: opened.Add(time.Duration(n) * time.Second),
	}
}

// shard is the redis-server of the scenario's own.
type shard struct {
	srv *testenv.RedisServer
	rdb *redis.Client
	ns  atomic.Int64 // numbers fresh namespaces and key prefixes
}

func newShard(ctx context.Context, srv *testenv.RedisServer) (*shard, error) {
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 32})
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("capacitybench: own redis-server: %w", err)
	}
	return &shard{srv: srv, rdb: rdb}, nil
}

func (s *shard) close() { s.rdb.Close() }

// fresh empties the server (the scenario's own) and returns a key prefix
// not used before.
func (s *shard) fresh(ctx context.Context) (string, error) {
	if err := s.rdb.FlushAll(ctx).Err(); err != nil {
		return "", err
	}
	return "cap" + strconv.FormatInt(s.ns.Add(1), 10) + ":", nil
}

// writer builds the batches of one committer: batchSize new accounts each,
// with their by-owner index entry.
type writer struct {
	w, next int
}

func (wr *writer) batch(n int) ([]readmodel.Write, error) {
	writes := make([]readmodel.Write, 0, n)
	for range n {
		wr.next++
		a := newAccount(wr.w, wr.next)
		wri, err := accountModel.Put(a.ID, readmodel.Revision{Commit: uint64(wr.next), Sequence: 1}, a)
		if err != nil {
			return nil, err
		}
		writes = append(writes, wri)
	}
	return writes, nil
}

// commitCell measures the shard's commit rate: committers projection
// workers each applying batches of new documents with their checkpoint
// (redisstore's script), with and without an index entry, against the same
// documents in pipelined HSETs. Each reports the redis-server's CPU per
// document.
func (s *shard) commitCell(committers int) harness.Cell {
	return harness.Cell{
		Name:      fmt.Sprintf("Redis shard, %d committers × %d documents", committers, batchSize),
		Unit:      "documents",
		Eventfold: &harness.Contender{Name: "redisstore Apply (Lua, with checkpoint and index entry)", Run: s.applyRun(committers, true)},
		Baselines: []harness.Contender{
			{Name: "redisstore Apply, no index entry", Run: s.applyRun(committers, false)},
			{Name: "raw pipelined HSET of the same documents", Run: s.hsetRun(committers)},
		},
	}
}

// hsetRun measures committers writers each sending batches of new
// documents as pipelined HSETs of the fields redisstore keeps (revision
// and JSON): Redis's limit for these keys.
func (s *shard) hsetRun(committers int) func(context.Context, harness.Budget) (harness.Sample, error) {
	return func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
		prefix, err := s.fresh(ctx)
		if err != nil {
			return harness.Sample{}, err
		}
		writers := make([]writer, committers)
		return s.measureCPU(ctx, budget, committers, func(ctx context.Context, w int) (int, error) {
			wr := &writers[w]
			wr.w = w
			writes, err := wr.batch(batchSize)
			if err != nil {
				return 0, err
			}
			_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, x := range writes {
					p.HSet(ctx, prefix+"d:"+x.ID, "r", strconv.FormatUint(x.Revision.Commit, 10), "v", x.Data)
				}
				return nil
			})
			return len(writes), err
		})
	}
}

// applyRun measures committers projection workers each applying batches
// of new documents with their checkpoint through redisstore, with or
// without their index entries.
func (s *shard) applyRun(committers int, indexed bool) func(context.Context, harness.Budget) (harness.Sample, error) {
	return func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
		prefix, err := s.fresh(ctx)
		if err != nil {
			return harness.Sample{}, err
		}
		rm, err := redisstore.New(s.rdb, &redisstore.Options{Prefix: prefix})
		if err != nil {
			return harness.Sample{}, err
		}
		writers := make([]writer, committers)
		return s.measureCPU(ctx, budget, committers, func(ctx context.Context, w int) (int, error) {
			wr := &writers[w]
			wr.w = w
			writes, err := wr.batch(batchSize)
			if err != nil {
				return 0, err
			}
			if !indexed {
				for i := range writes {
					writes[i].Entries = nil
				}
			}
			ns := readmodel.Namespace{Projection: "accounts-" + strconv.Itoa(w)}
			_, err = rm.Apply(ctx, ns, readmodel.Batch{Writes: writes, Checkpoint: strconv.Itoa(wr.next)})
			return len(writes), err
		})
	}
}

// measureCPU drives op and adds the redis-server's CPU per unit, over
// warm-up and window together (the process counters cannot tell them
// apart), and the cores it kept busy.
func (s *shard) measureCPU(ctx context.Context, budget harness.Budget, writers int, op harness.Op) (harness.Sample, error) {
	var units atomic.Int64
	counted := func(ctx context.Context, w int) (int, error) {
		n, err := op(ctx, w)
		units.Add(int64(n))
		return n, err
	}
	cpu0, err := procCPU(s.srv.PID())
	if err != nil {
		return harness.Sample{}, err
	}
	start := time.Now()
	sample, err := harness.Drive(ctx, writers, budget, counted)
	if err != nil {
		return sample, err
	}
	wall := time.Since(start)
	cpu1, err := procCPU(s.srv.PID())
	if err != nil {
		return sample, err
	}
	cpu := time.Duration(cpu1-cpu0) * 10 * time.Millisecond // clock ticks of 1/100 s
	if n := units.Load(); n > 0 {
		sample.Extra = map[string]float64{
			"redis-server CPU µs per document": float64(cpu.Microseconds()) / float64(n),
			"redis-server cores busy":          cpu.Seconds() / wall.Seconds(),
		}
	}
	return sample, nil
}

// memoryCell loads n account documents into the emptied server and
// reports used_memory's growth per document: through redisstore (hash of
// revision and JSON, and an index entry by owner) and as raw keys.
func (s *shard) memoryCell(n int) harness.Cell {
	load := func(write func(ctx context.Context, prefix string, writes []readmodel.Write) error) func(context.Context, harness.Budget) (harness.Sample, error) {
		return func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
			prefix, err := s.fresh(ctx)
			if err != nil {
				return harness.Sample{}, err
			}
			before, err := s.usedMemory(ctx)
			if err != nil {
				return harness.Sample{}, err
			}
			sample, err := harness.Once(ctx, budget, int64(n), func(ctx context.Context) (time.Duration, error) {
				start := time.Now()
				wr := writer{}
				for done := 0; done < n; done += batchSize {
					writes, err := wr.batch(min(batchSize, n-done))
					if err != nil {
						return 0, err
					}
					if err := write(ctx, prefix, writes); err != nil {
						return 0, err
					}
				}
				return time.Since(start), nil
			})
			if err != nil {
				return sample, err
			}
			after, err := s.usedMemory(ctx)
			if err != nil {
				return sample, err
			}
			sample.Extra["bytes per document"] = float64(after-before) / float64(n)
			sample.Extra["document JSON bytes"] = float64(docSize())
			return sample, nil
		}
	}
	apply := func(indexed bool) func(context.Context, string, []readmodel.Write) error {
		return func(ctx context.Context, prefix string, writes []readmodel.Write) error {
			rm, err := redisstore.New(s.rdb, &redisstore.Options{Prefix: prefix})
			if err != nil {
				return err
			}
			if !indexed {
				for i := range writes {
					writes[i].Entries = nil
				}
			}
			_, err = rm.Apply(ctx, readmodel.Namespace{Projection: "accounts"}, readmodel.Batch{Writes: writes, Checkpoint: writes[len(writes)-1].ID})
			return err
		}
	}
	return harness.Cell{
		Name:      fmt.Sprintf("Redis memory, %d account documents", n),
		Unit:      "documents",
		Eventfold: &harness.Contender{Name: "redisstore, with a by-owner index entry", Run: load(apply(true))},
		Baselines: []harness.Contender{
			{Name: "redisstore, no index", Run: load(apply(false))},
			{Name: "raw SET of the JSON under the document's ID", Run: load(func(ctx context.Context, prefix string, writes []readmodel.Write) error {
				_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, x := range writes {
						p.Set(ctx, prefix+x.ID, x.Data, 0)
					}
					return nil
				})
				return err
			})},
		},
	}
}

func (s *shard) usedMemory(ctx context.Context) (int64, error) {
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("capacitybench: no used_memory in INFO memory")
}

// docSize is the JSON size of a typical account document.
func docSize() int {
	b, _ := json.Marshal(newAccount(1, 1))
	return len(b)
}
