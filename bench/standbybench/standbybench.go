// Package standbybench holds benchmark scenario 9: the primary's CPU per
// appended event while projections catch up, when they read the log from
// the primary and when they read it from a hot standby (pgstore.Replica).
//
// The scenario starts its own PostgreSQL primary and streaming standby on
// free ports of 127.0.0.1 (internal/testenv.StartPGPair; fsync is off, so
// it is CPU-bound), fills a backlog, and then, for each contender, appends
// at a fixed rate while several readers tail the log from the start over
// and over, as projections catching up do. The primary's CPU is read from
// /proc: its postmaster (with the children it has reaped) and its live
// children, and nothing else on the machine.
package standbybench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// Scenario is scenario 9. It implements harness.Scenario.
type Scenario struct {
	// Backlog is the number of events the readers catch up on, over and
	// over. Zero means 20000.
	Backlog int
	// Readers is the number of concurrent readers. Zero means 3.
	Readers int
	// Rate is the offered append rate, events per second. Zero means 400.
	Rate float64
}

var _ harness.Scenario = Scenario{}

// ID implements harness.Scenario.
func (Scenario) ID() int { return 9 }

// Name implements harness.Scenario.
func (Scenario) Name() string { return "standby" }

// Title implements harness.Scenario.
func (Scenario) Title() string {
	return "primary CPU per appended event while projections catch up, from the primary or a hot standby"
}

// Setup implements harness.Scenario.
func (s Scenario) Setup(ctx context.Context, _ *harness.Env) (*harness.Plan, error) {
	if s.Backlog <= 0 {
		s.Backlog = 20000
	}
	if s.Readers <= 0 {
		s.Readers = 3
	}
	if s.Rate <= 0 {
		s.Rate = 400
	}
	pair, err := testenv.StartPGPair(ctx)
	if err != nil {
		return nil, err
	}
	b := &bench{s: s, pair: pair}
	if err := b.prepare(ctx); err != nil {
		pair.Close()
		return nil, err
	}
	return &harness.Plan{
		Cells: []harness.Cell{{
			Name: fmt.Sprintf("%d readers, %g events/s", s.Readers, s.Rate),
			Unit: "events",
			Eventfold: &harness.Contender{Name: "catch-up on the standby (pgstore.Replica)", Run: func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
				return b.measurePair(ctx, budget)
			}},
			Baselines: []harness.Contender{{Name: "catch-up on the primary", Run: func(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
				return b.measure(ctx, budget, b.store)
			}}},
		}},
		Close: func(context.Context) error {
			b.primary.Close()
			b.standby.Close()
			pair.Close()
			return nil
		},
	}, nil
}

type bench struct {
	s                Scenario
	pair             *testenv.PGPair
	primary, standby *pgxpool.Pool
	store            *pgstore.Store
	replica          *pgstore.Replica
}

// prepare migrates the store, fills the backlog and waits until the
// standby has replayed it.
func (b *bench) prepare(ctx context.Context) error {
	var err error
	if b.primary, err = pgxpool.New(ctx, b.pair.Primary.URL()); err != nil {
		return err
	}
	if b.standby, err = pgxpool.New(ctx, b.pair.Standby.URL()); err != nil {
		return err
	}
	if err := pgstore.Migrate(ctx, b.primary, nil); err != nil {
		return err
	}
	if b.store, err = pgstore.New(b.primary, nil); err != nil {
		return err
	}
	if b.replica, err = b.store.WithReplica(b.standby, nil); err != nil {
		return err
	}
	const perAppend = 100
	for i := 0; i < b.s.Backlog; i += perAppend {
		events := make([]eventstore.Event, min(perAppend, b.s.Backlog-i))
		for j := range events {
			events[j] = event(i + j)
		}
		if _, err := b.store.Append(ctx, "backlog-"+strconv.Itoa(i%1000), eventstore.Any, events); err != nil {
			return err
		}
	}
	return b.pair.WaitReplayed(ctx)
}

func event(n int) eventstore.Event {
	return eventstore.Event{Type: "Added", Data: fmt.Appendf(nil, `{"n":%d,"note":"an event of about a hundred bytes, as a small domain event is"}`, n)}
}

// measurePair measures catch-up on the primary and then on the standby,
// one window each, and reports the standby's figures with the ratio of
// the two in Extra.
func (b *bench) measurePair(ctx context.Context, budget harness.Budget) (harness.Sample, error) {
	onPrimary, err := b.measure(ctx, budget, b.store)
	if err != nil {
		return harness.Sample{}, err
	}
	onStandby, err := b.measure(ctx, budget, b.replica)
	if err != nil {
		return harness.Sample{}, err
	}
	if !b.replica.ReadingStandby() {
		_, lagErr := b.replica.LastLag()
		return harness.Sample{}, fmt.Errorf("standbybench: the replica read the primary: %v", lagErr)
	}
	p, s := onPrimary.Extra[cpuPerEvent], onStandby.Extra[cpuPerEvent]
	onStandby.Extra[cpuPerEvent+", catch-up on the primary"] = p
	if p > 0 {
		onStandby.Extra["primary CPU, standby over primary catch-up"] = s / p
	}
	return onStandby, nil
}

const cpuPerEvent = "primary CPU µs/event"

// stretchLimit bounds how long a window is stretched to see at
// least one append.
const stretchLimit = 10 * time.Second

// measure appends at the scenario's rate while the readers tail src from
// the start, over and over, for the budget's warm-up and then its window.
func (b *bench) measure(ctx context.Context, budget harness.Budget, src eventstore.Store) (harness.Sample, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var read atomic.Int64
	errs := make(chan error, b.s.Readers+1)
	var wg sync.WaitGroup
	for range b.s.Readers {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- catchUpForever(ctx, src, &read) }()
	}
	var mu sync.Mutex
	var lat []time.Duration
	measuring := false
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- b.appendPaced(ctx, func(d time.Duration) {
			mu.Lock()
			if measuring {
				lat = append(lat, d)
			}
			mu.Unlock()
		})
	}()
	stop := func() error {
		cancel()
		wg.Wait()
		close(errs)
		var all []error
		for err := range errs {
			if err != nil && !errors.Is(err, context.Canceled) {
				all = append(all, err)
			}
		}
		return errors.Join(all...)
	}
	if !sleep(ctx, budget.Warmup) {
		return harness.Sample{}, errors.Join(ctx.Err(), stop())
	}
	cpu0, err := processTreeCPU(b.pair.Primary.PID())
	if err != nil {
		return harness.Sample{}, errors.Join(err, stop())
	}
	mu.Lock()
	measuring = true
	mu.Unlock()
	read0, start := read.Load(), time.Now()
	sleep(ctx, budget.Window)
	// A window shorter than an append on a busy machine (quick mode's)
	// is stretched until one append has landed, up to a bound.
	for deadline := start.Add(stretchLimit); ; {
		mu.Lock()
		got := len(lat)
		mu.Unlock()
		if got > 0 || !time.Now().Before(deadline) || !sleep(ctx, 10*time.Millisecond) {
			break
		}
	}
	mu.Lock()
	measuring = false
	appended := int64(len(lat))
	latencies := lat
	mu.Unlock()
	elapsed, readN := time.Since(start), read.Load()-read0
	cpu1, err := processTreeCPU(b.pair.Primary.PID())
	if err := errors.Join(err, stop()); err != nil {
		return harness.Sample{}, err
	}
	if appended == 0 {
		return harness.Sample{}, errors.New("standbybench: nothing appended in the window")
	}
	return harness.Sample{Count: appended, Ops: appended, Elapsed: elapsed, Latencies: latencies,
		Extra: map[string]float64{
			cpuPerEvent:         float64((cpu1 - cpu0).Microseconds()) / float64(appended),
			"catch-up events/s": float64(readN) / elapsed.Seconds(),
		}}, nil
}

// appendPaced appends one event at a time at the scenario's rate (one
// writer; an append that falls behind schedule is sent at once) and reports
// each append's latency.
func (b *bench) appendPaced(ctx context.Context, done func(time.Duration)) error {
	interval := time.Duration(float64(time.Second) / b.s.Rate)
	next := time.Now()
	for i := 0; ; i++ {
		if d := time.Until(next); d > 0 && !sleep(ctx, d) {
			return ctx.Err()
		}
		start := time.Now()
		if _, err := b.store.Append(ctx, "live-"+strconv.Itoa(i%100), eventstore.Any, []eventstore.Event{event(i)}); err != nil {
			return err
		}
		done(time.Since(start))
		next = next.Add(interval)
	}
}

// catchUpForever reads src's log from the start to its end, as a
// projection catching up does (projection.LogSource), then starts again,
// until ctx ends.
func catchUpForever(ctx context.Context, src eventstore.Store, read *atomic.Int64) error {
	for {
		feed, err := projection.LogSource(src, nil).Open(ctx, eventstore.Position{})
		if err != nil {
			return err
		}
		for {
			recs, err := feed.Next(ctx, 500)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				break
			}
			read.Add(int64(len(recs)))
		}
		feed.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// processTreeCPU returns the CPU time (user and system) of the process pid,
// of the children it has reaped, and of its live children, from /proc.
func processTreeCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, errors.New("standbybench: the primary is not running")
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	var total int64
	found := false
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended
		}
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		// After the name: field 3 (state) is f[0], ppid f[1], utime f[11],
		// stime f[12], cutime f[13], cstime f[14].
		f := strings.Fields(s[end+1:])
		if len(f) < 15 {
			continue
		}
		self := strings.HasPrefix(path, "/proc/"+strconv.Itoa(pid)+"/")
		if !self && f[1] != strconv.Itoa(pid) {
			continue
		}
		n := 13
		if self {
			n, found = 15, true // with the reaped children
		}
		for _, v := range f[11:n] {
			x, _ := strconv.ParseInt(v, 10, 64)
			total += x
		}
	}
	if !found {
		return 0, fmt.Errorf("standbybench: no process %d in /proc", pid)
	}
	return time.Duration(total) * tick, nil
}
