package harness

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 1000; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0.999, 999 * time.Millisecond}, {1, time.Second}} {
		if got := percentile(lat, c.q); got != c.want {
			t.Errorf("percentile(%g) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}

func TestSpread(t *testing.T) {
	if s := spreadOf([]float64{3, 1, 2}); s != (Spread{Median: 2, Min: 1, Max: 3}) {
		t.Errorf("spreadOf odd = %+v", s)
	}
	if s := spreadOf([]float64{4, 1, 2, 3}); s != (Spread{Median: 2.5, Min: 1, Max: 4}) {
		t.Errorf("spreadOf even = %+v", s)
	}
	if s := spreadOf(nil); !math.IsNaN(s.Median) {
		t.Errorf("spreadOf nothing = %+v", s)
	}
}

func TestRatio(t *testing.T) {
	a := []repFigures{{rate: 90}, {rate: 40}, {rate: 100}}
	b := []repFigures{{rate: 100}, {rate: 100}, {rate: 100}}
	r := ratioOf(a, b)
	if r.Median != 0.9 || r.Min != 0.4 || r.Max != 1 {
		t.Errorf("ratioOf = %+v, want median 0.9 (of the medians), min 0.4, max 1", r)
	}
}

func TestDrive(t *testing.T) {
	var calls atomic.Int64
	s, err := Drive(context.Background(), 4, Budget{Warmup: 10 * time.Millisecond, Window: 50 * time.Millisecond},
		func(ctx context.Context, w int) (int, error) {
			if w < 0 || w >= 4 {
				t.Errorf("writer index %d", w)
			}
			calls.Add(1)
			time.Sleep(time.Millisecond)
			return 3, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops == 0 || s.Count != 3*s.Ops || int64(len(s.Latencies)) != s.Ops {
		t.Errorf("sample: %d ops, %d units, %d latencies", s.Ops, s.Count, len(s.Latencies))
	}
	if s.Ops >= calls.Load() {
		t.Errorf("%d ops measured of %d calls: the warm-up was measured", s.Ops, calls.Load())
	}
	if s.Elapsed < 50*time.Millisecond || s.Rate() <= 0 {
		t.Errorf("elapsed %v, rate %g", s.Elapsed, s.Rate())
	}
}

func TestDriveError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Drive(context.Background(), 3, Budget{Window: time.Minute}, func(ctx context.Context, w int) (int, error) {
		if w == 1 {
			return 0, boom
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Errorf("Drive = %v, want the op's error", err)
	}
}

// TestRunReport runs fake scenarios through Run and checks the report:
// rep-major order, one row per baseline, pending and failed scenarios.
func TestRunReport(t *testing.T) {
	env, err := NewEnv(EnvOptions{PostgresURL: "postgres://unused"})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	contender := func(name string, rate int64) Contender {
		return Contender{Name: name, Run: func(ctx context.Context, b Budget) (Sample, error) {
			order = append(order, name)
			return Sample{Count: rate, Ops: 1, Elapsed: time.Second, Latencies: []time.Duration{time.Millisecond}}, nil
		}}
	}
	ok := fake{id: 1, name: "ok", plan: &Plan{Cells: []Cell{{
		Name: "c", Unit: "events",
		Eventfold: ptr(contender("ef", 50)),
		Baselines: []Contender{contender("raw", 100), contender("peer", 25)},
	}}}}
	broken := fake{id: 2, name: "broken", err: errors.New("no table")}
	r := Run(context.Background(), env, []Scenario{ok, broken, Pending(3, "later", "later", "needs X")}, Options{Reps: 2})

	if got := strings.Join(order, " "); got != "ef raw peer raw peer ef" {
		t.Errorf("measurement order %q, want rep-major with rotation", got)
	}
	if len(r.Scenarios) != 3 {
		t.Fatalf("%d scenarios", len(r.Scenarios))
	}
	rows := r.Scenarios[0].Rows
	if len(rows) != 2 || rows[0].Baseline != "raw" || rows[0].Ratio.Median != 0.5 || rows[1].Ratio.Median != 2 {
		t.Errorf("rows = %+v", rows)
	}
	if r.Scenarios[1].Status != StatusFailed || r.Scenarios[2].Status != StatusNotImplemented {
		t.Errorf("statuses %q, %q", r.Scenarios[1].Status, r.Scenarios[2].Status)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "no table") {
		t.Errorf("Err = %v", err)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 1 ok | c | 50 events/s", "**50%**", "**200%**", "3 later (later): not yet implemented: needs X", "2 broken (broken): failed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

type fake struct {
	id   int
	name string
	plan *Plan
	err  error
}

func (f fake) ID() int                                    { return f.id }
func (f fake) Name() string                               { return f.name }
func (f fake) Title() string                              { return f.name }
func (f fake) Setup(context.Context, *Env) (*Plan, error) { return f.plan, f.err }
func ptr[T any](v T) *T                                   { return &v }
