package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eventfold/eventfold/bench/appendbench"
	"github.com/eventfold/eventfold/bench/capacitybench"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/hotbench"
	"github.com/eventfold/eventfold/bench/lifecyclebench"
	"github.com/eventfold/eventfold/bench/projbench"
	"github.com/eventfold/eventfold/bench/querybench"
	"github.com/eventfold/eventfold/bench/standbybench"
	"github.com/eventfold/eventfold/bench/visiblebench"
)

func main() {
	if projbench.IsChild() {
		os.Exit(projbench.RunChild())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// The servers of scripts/services.sh.
const (
	defaultPostgresURL = "postgres://eventfold:eventfold@127.0.0.1:5432/eventfold?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// config is what the command line sets.
type config struct {
	quick      bool
	jsonPath   string
	only       *regexp.Regexp
	contenders *regexp.Regexp
	reps       int
	budget     harness.Budget
	writers    []int
	pgURL      string
	redisURL   string
	cpuProfile string
	memProfile string
	variants   bool
	backlog    int
	memory     []int // scenario 7's small and large backlogs
	loads      []float64
	// scenario 4's load search
	sustainP99   time.Duration
	sustainSteps int
}

func parse(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c       config
		only    string
		cont    string
		window  time.Duration
		warmup  time.Duration
		writers string
		memory  string
		loads   string
	)
	fs.BoolVar(&c.quick, "quick", false, "quick mode: one short measurement per contender and cell, to check that every scenario runs")
	fs.StringVar(&c.jsonPath, "json", "results.json", "write the report as JSON to this file (empty: do not write)")
	fs.StringVar(&only, "run", "", "run only the scenarios whose name matches this regular expression")
	fs.StringVar(&cont, "contenders", "", "measure only the contenders whose name matches this regular expression (eventfold's is \"eventfold pgstore\"), for profiling")
	fs.IntVar(&c.reps, "reps", 0, "repetitions (default 3, or 1 with -quick)")
	fs.DurationVar(&window, "window", 0, "measured time per contender, cell and rep (default 10s, or 300ms with -quick)")
	fs.DurationVar(&warmup, "warmup", -1, "unmeasured warm-up before each measurement (default 1s, or 100ms with -quick)")
	fs.StringVar(&writers, "writers", "1,16", "numbers of concurrent writers of the append scenarios, comma-separated")
	fs.StringVar(&c.pgURL, "postgres", envOr("EVENTFOLD_TEST_POSTGRES_URL", defaultPostgresURL), "PostgreSQL connection string")
	fs.StringVar(&c.redisURL, "redis", envOr("EVENTFOLD_TEST_REDIS_URL", defaultRedisURL), "Redis connection string")
	fs.BoolVar(&c.variants, "variants", false, "also measure variants that take eventfold's append apart (analysis, not baselines)")
	fs.IntVar(&c.backlog, "backlog", 0, "events in the backlog of scenarios 5 and 6 (default 200000, or 2000 with -quick)")
	fs.StringVar(&memory, "memory-backlogs", "", "scenario 7's small and large backlogs, comma-separated (default 10000 and -backlog, or 1000,20000 with -quick)")
	fs.StringVar(&loads, "loads", "", "scenario 4's offered loads in commands/s, comma-separated (default 500,2000,4000, or 200 with -quick)")
	fs.DurationVar(&c.sustainP99, "sustain-p99", 20*time.Millisecond, "scenario 4's search for the highest load sustained: the bound on p99 (0: no search)")
	fs.IntVar(&c.sustainSteps, "sustain-steps", 0, "scenario 4's search: measurements per contender, each half a window (default 10, or 2 with -quick)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "write an allocation profile of the whole run to this file at the end (-sample_index=alloc_space shows where it allocated)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return c, fmt.Errorf("-run: %w", err)
		}
		c.only = re
	}
	if cont != "" {
		re, err := regexp.Compile(cont)
		if err != nil {
			return c, fmt.Errorf("-contenders: %w", err)
		}
		c.contenders = re
	}
	c.budget = harness.Budget{Warmup: time.Second, Window: 10 * time.Second}
	if c.quick {
		c.budget = harness.Budget{Warmup: 100 * time.Millisecond, Window: 300 * time.Millisecond}
	}
	if window > 0 {
		c.budget.Window = window
	}
	if warmup >= 0 {
		c.budget.Warmup = warmup
	}
	if c.reps <= 0 {
		c.reps = 3
		if c.quick {
			c.reps = 1
		}
	}
	if c.backlog <= 0 {
		c.backlog = 200_000
		if c.quick {
			c.backlog = 2000
		}
	}
	switch {
	case memory != "":
		for f := range strings.SplitSeq(memory, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return c, fmt.Errorf("-memory-backlogs: %q is not a positive number", f)
			}
			c.memory = append(c.memory, n)
		}
		if len(c.memory) != 2 {
			return c, fmt.Errorf("-memory-backlogs: want two sizes, got %q", memory)
		}
	case c.quick:
		c.memory = []int{1000, 20_000}
	default:
		c.memory = []int{10_000, c.backlog}
	}
	if loads == "" {
		loads = "500,2000,4000"
		if c.quick {
			loads = "200"
		}
	}
	for f := range strings.SplitSeq(loads, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || x <= 0 {
			return c, fmt.Errorf("-loads: %q is not a positive number", f)
		}
		c.loads = append(c.loads, x)
	}
	if c.sustainSteps <= 0 {
		c.sustainSteps = 10
		if c.quick {
			c.sustainSteps = 2
		}
	}
	for f := range strings.SplitSeq(writers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-writers: %q is not a positive number", f)
		}
		c.writers = append(c.writers, n)
	}
	return c, nil
}

// sustainFrom is the first load scenario 4's search offers: the lowest of
// its fixed loads.
func (c config) sustainFrom() float64 {
	return slices.Min(c.loads)
}

// scenarios lists every scenario, in order; those that need
// parts of eventfold that do not exist yet are listed as pending.
func scenarios(c config) []harness.Scenario {
	opts := &appendbench.Options{Writers: c.writers, Variants: c.variants}
	capacity := capacitybench.Scenario{}
	if c.quick {
		capacity = capacitybench.Scenario{Events: 200, Documents: 2000, Committers: 2, Consumers: 2}
	}
	proj := projbench.Options{Events: c.backlog, Small: c.memory[0], Large: c.memory[1], Backlogs: projbench.NewBacklogs()}
	return []harness.Scenario{
		appendbench.New(1, opts),
		appendbench.New(10, opts),
		hotbench.Scenario{},
		visiblebench.Scenario{Loads: c.loads, Search: visiblebench.Search{P99: c.sustainP99, From: c.sustainFrom(), Steps: c.sustainSteps}},
		projbench.CatchUp{Opts: proj},
		projbench.Rebuild{Opts: proj},
		projbench.Memory{Opts: proj, Postgres: c.pgURL, Redis: c.redisURL},
		querybench.Scenario{},
		standbybench.Scenario{Backlog: min(c.backlog, 20_000)},
		projbench.FilteredRebuild{Opts: proj},
		capacity,
		lifecyclebench.Scenario{},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return errors.Join(err, f.Close())
		}
		defer func() {
			pprof.StopCPUProfile()
			err = errors.Join(err, f.Close())
		}()
	}
	if c.memProfile != "" {
		defer func() {
			f, ferr := os.Create(c.memProfile)
			if ferr != nil {
				err = errors.Join(err, ferr)
				return
			}
			err = errors.Join(err, pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
		}()
	}
	var list []harness.Scenario
	for _, s := range scenarios(c) {
		if c.only == nil || c.only.MatchString(s.Name()) {
			list = append(list, s)
		}
	}
	maxWriters := 1
	for _, w := range c.writers {
		maxWriters = max(maxWriters, w)
	}
	env, err := harness.NewEnv(harness.EnvOptions{PostgresURL: c.pgURL, RedisURL: c.redisURL, MaxConns: maxWriters + 2})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		err = errors.Join(err, env.Close(cctx))
	}()
	mode := "full"
	if c.quick {
		mode = "quick"
	}
	report := harness.Run(ctx, env, list, harness.Options{Mode: mode, Reps: c.reps, Budget: c.budget, Log: stderr, Contenders: c.contenders})
	if err := report.WriteTable(stdout); err != nil {
		return err
	}
	if c.jsonPath != "" {
		if err := report.WriteJSON(c.jsonPath); err != nil {
			return err
		}
	}
	return report.Err()
}
