package projbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/orders"
	"github.com/eventfold/eventfold/eventstore"
)

// childEnv, when set in the environment, makes the bench binary (or its
// test binary) run one projector as scenario 7's child process instead of
// the benchmark. It holds the child's configuration as JSON.
const childEnv = "EVENTFOLD_BENCH_PROJECTOR_CHILD"

type childConfig struct {
	Postgres string              `json:"postgres"`
	Redis    string              `json:"redis"`
	Schema   string              `json:"schema"`
	Prefix   string              `json:"prefix"`
	Events   int                 `json:"events"`
	Streams  int                 `json:"streams"`
	Head     eventstore.Position `json:"head"`
	Raw      bool                `json:"raw"`
}

// childResult is what the child prints on stdout when it is done.
type childResult struct {
	PeakRSSKiB   int64         `json:"peak_rss_kib"`
	GCPauseTotal time.Duration `json:"gc_pause_total_ns"`
	NumGC        uint32        `json:"num_gc"`
	HeapSys      uint64        `json:"heap_sys"`
	Took         time.Duration `json:"took_ns"`
}

// IsChild reports whether this process was started as scenario 7's child.
func IsChild() bool { return os.Getenv(childEnv) != "" }

// RunChild runs the child's projector, prints its result as JSON and
// returns the process's exit code.
func RunChild() int {
	if err := runChild(); err != nil {
		fmt.Fprintln(os.Stderr, "projector child:", err)
		return 1
	}
	return 0
}

func runChild() error {
	var cfg childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pc, err := pgxpool.ParseConfig(cfg.Postgres)
	if err != nil {
		return err
	}
	pc.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return err
	}
	defer pool.Close()
	ro, err := redis.ParseURL(cfg.Redis)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(ro)
	defer rdb.Close()
	store, err := pgstore.New(pool, &pgstore.Options{Schema: cfg.Schema})
	if err != nil {
		return err
	}
	bl := &Backlog{Schema: cfg.Schema, Events: cfg.Events, Streams: cfg.Streams, Store: store, Head: cfg.Head}
	var took time.Duration
	if cfg.Raw {
		took, err = rawProject(ctx, bl, pool, rdb, cfg.Prefix)
	} else {
		took, err = catchUp(ctx, bl, rdb, cfg.Prefix, orders.NewProjection("1", false), false)
	}
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	hwm, err := peakRSS()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(childResult{
		PeakRSSKiB: hwm, GCPauseTotal: time.Duration(ms.PauseTotalNs), NumGC: ms.NumGC, HeapSys: ms.HeapSys, Took: took,
	})
}

// peakRSS reads VmHWM, the process's peak resident set, in KiB.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// Memory is scenario 7.
type Memory struct {
	Opts Options
	// Postgres and Redis are the connection strings the child uses.
	Postgres, Redis string
}

var _ harness.Scenario = Memory{}

// ID implements harness.Scenario.
func (Memory) ID() int { return 7 }

// Name implements harness.Scenario.
func (Memory) Name() string { return "memory" }

// Title implements harness.Scenario.
func (s Memory) Title() string {
	return fmt.Sprintf("projector peak RSS and GC pauses, %s against %s backlog", count(s.Opts.Large), count(s.Opts.Small))
}

// Setup implements harness.Scenario.
func (s Memory) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	rdb, err := env.Redis(ctx)
	if err != nil {
		return nil, err
	}
	var cells []harness.Cell
	for _, n := range []int{s.Opts.Small, s.Opts.Large} {
		bl, err := s.Opts.Backlogs.Get(ctx, env, n)
		if err != nil {
			return nil, err
		}
		child := func(raw bool) func(context.Context, harness.Budget) (harness.Sample, error) {
			return func(ctx context.Context, b harness.Budget) (harness.Sample, error) {
				cfg := childConfig{Postgres: s.Postgres, Redis: s.Redis, Schema: bl.Schema, Prefix: freshPrefix(env, "memory"),
					Events: bl.Events, Streams: bl.Streams, Head: bl.Head, Raw: raw}
				defer unlinkPrefix(context.WithoutCancel(ctx), rdb, cfg.Prefix)
				cj, err := json.Marshal(cfg)
				if err != nil {
					return harness.Sample{}, err
				}
				var res childResult
				smp, err := harness.Once(ctx, b, int64(bl.Events), func(ctx context.Context) (time.Duration, error) {
					cmd := exec.CommandContext(ctx, exe)
					cmd.Env = append(os.Environ(), childEnv+"="+string(cj))
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					if err := cmd.Run(); err != nil {
						return 0, fmt.Errorf("projector child: %w; stderr: %s", err, stderr.String())
					}
					if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
						return 0, fmt.Errorf("projector child's output %q: %w", stdout.String(), err)
					}
					return res.Took, nil
				})
				if err != nil {
					return smp, err
				}
				smp.Extra["peak RSS MiB"] = float64(res.PeakRSSKiB) / 1024
				smp.Extra["GC pause total ms"] = float64(res.GCPauseTotal) / float64(time.Millisecond)
				smp.Extra["GC cycles"] = float64(res.NumGC)
				smp.Extra["heap from OS MiB"] = float64(res.HeapSys) / (1 << 20)
				return smp, nil
			}
		}
		cells = append(cells, harness.Cell{
			Name:      fmt.Sprintf("%s backlog, child process", count(n)),
			Unit:      "events",
			Eventfold: &harness.Contender{Name: "eventfold Runner", Run: child(false)},
			Baselines: []harness.Contender{{Name: "raw pgx keyset read + pipelined HSET", Run: child(true)}},
		})
	}
	return &harness.Plan{Cells: cells}, nil
}
