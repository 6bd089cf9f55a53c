package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Options configures Run.
type Options struct {
	// Mode names the run's mode in the report, for example "quick" or
	// "full".
	Mode string
	// Reps is how many times every contender of every cell is measured.
	// Zero means 1.
	Reps int
	// Budget bounds each measurement.
	Budget Budget
	// Log, if not nil, receives one progress line per measurement.
	Log io.Writer
	// Contenders, if not nil, measures only the contenders whose name it
	// matches ("eventfold" names eventfold's), for profiling one of them.
	Contenders *regexp.Regexp
}

// Status is what became of a scenario.
type Status string

// The statuses of a scenario.
const (
	StatusOK             Status = "ok"
	StatusNotImplemented Status = "not yet implemented"
	StatusFailed         Status = "failed"
)

// contenderRun collects the repetitions of one contender of one cell.
type contenderRun struct {
	c    Contender
	reps []repFigures
}

type cellRun struct {
	cell      Cell
	eventfold *contenderRun
	baselines []*contenderRun
}

type scenarioRun struct {
	s      Scenario
	plan   *Plan
	cells  []*cellRun
	result ScenarioResult
}

// Run sets up every scenario, measures them rep by rep and returns the
// report. A scenario that fails is reported as failed and the others still
// run; Report.Err joins the failures. Pending scenarios are reported as not
// yet implemented. Run does not close env.
func Run(ctx context.Context, env *Env, scenarios []Scenario, opts Options) *Report {
	if opts.Reps <= 0 {
		opts.Reps = 1
	}
	opts.Budget.probe = env.probe
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", args...)
		}
	}
	rep := &Report{
		Started: time.Now().UTC(),
		Mode:    opts.Mode,
		Reps:    opts.Reps,
		Warmup:  opts.Budget.Warmup.Seconds(),
		Window:  opts.Budget.Window.Seconds(),
	}

	runs := make([]*scenarioRun, 0, len(scenarios))
	for _, s := range scenarios {
		r := &scenarioRun{s: s, result: ScenarioResult{ID: s.ID(), Name: s.Name(), Title: s.Title(), Status: StatusOK}}
		runs = append(runs, r)
		plan, err := s.Setup(ctx, env)
		switch {
		case errors.Is(err, ErrNotImplemented):
			r.result.Status, r.result.Reason = StatusNotImplemented, err.Error()
			continue
		case err != nil:
			r.fail(fmt.Errorf("set up: %w", err))
			logf("%d %s: %v", s.ID(), s.Name(), r.result.Reason)
			continue
		}
		r.plan = plan
		for _, c := range plan.Cells {
			cr := &cellRun{cell: c}
			keep := func(name string) bool { return opts.Contenders == nil || opts.Contenders.MatchString(name) }
			if c.Eventfold != nil && keep(c.Eventfold.Name) {
				cr.eventfold = &contenderRun{c: *c.Eventfold}
			}
			for _, b := range c.Baselines {
				if keep(b.Name) {
					cr.baselines = append(cr.baselines, &contenderRun{c: b})
				}
			}
			r.cells = append(r.cells, cr)
		}
	}

	// Rep-major: the whole matrix once, then again. Within a cell the
	// contenders' order rotates from one rep to the next, so none is
	// always measured first after a scenario's setup.
	for i := range opts.Reps {
		for _, r := range runs {
			if r.plan == nil || r.result.Status != StatusOK {
				continue
			}
		cells:
			for _, cr := range r.cells {
				all := cr.contenders()
				for k := range len(all) {
					cn := all[(k+i)%len(all)]
					if ctx.Err() != nil {
						r.fail(ctx.Err())
						break cells
					}
					s, err := cn.c.Run(ctx, opts.Budget)
					if err != nil {
						r.fail(fmt.Errorf("%s, %s, rep %d: %w", cr.cell.Name, cn.c.Name, i+1, err))
						logf("%d %s: %v", r.s.ID(), r.s.Name(), err)
						break cells
					}
					f := summarise(s)
					cn.reps = append(cn.reps, f)
					logf("rep %d/%d  %d %-10s %-12s %-28s %10.0f %s/s  p50 %.3f  p99 %.3f ms",
						i+1, opts.Reps, r.s.ID(), r.s.Name(), cr.cell.Name, cn.c.Name, f.rate, cr.cell.Unit, f.p50, f.p99)
				}
			}
		}
	}

	for _, r := range runs {
		if r.plan != nil && r.plan.Close != nil {
			if err := r.plan.Close(ctx); err != nil && r.result.Status == StatusOK {
				r.fail(fmt.Errorf("close: %w", err))
			}
		}
		if r.result.Status == StatusOK {
			r.result.Rows = r.rows()
		}
		rep.Scenarios = append(rep.Scenarios, r.result)
	}
	rep.Machine = env.Machine(ctx)
	return rep
}

func (r *scenarioRun) fail(err error) {
	r.result.Status = StatusFailed
	r.result.Reason = err.Error()
}

func (cr *cellRun) contenders() []*contenderRun {
	var all []*contenderRun
	if cr.eventfold != nil {
		all = append(all, cr.eventfold)
	}
	return append(all, cr.baselines...)
}

func (r *scenarioRun) rows() []Row {
	var rows []Row
	for _, cr := range r.cells {
		var ef *Figure
		if cr.eventfold != nil {
			ef = figureOf(cr.eventfold.reps)
		}
		for _, b := range cr.baselines {
			if len(b.reps) == 0 {
				continue
			}
			row := Row{
				Scenario:         r.s.ID(),
				Cell:             cr.cell.Name,
				Unit:             cr.cell.Unit,
				Eventfold:        ef,
				EventfoldPending: cr.cell.EventfoldPending,
				Baseline:         b.c.Name,
				BaselineFigure:   figureOf(b.reps),
			}
			if ef != nil && len(cr.eventfold.reps) > 0 {
				row.Ratio = ratioOf(cr.eventfold.reps, b.reps)
				if ef.P99.Median > 0 {
					r := row.BaselineFigure.P99.Median / ef.P99.Median
					row.P99Ratio = &r
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func figureOf(reps []repFigures) *Figure {
	var rate, p50, p99, p999 []float64
	for _, f := range reps {
		rate = append(rate, f.rate)
		p50 = append(p50, f.p50)
		p99 = append(p99, f.p99)
		p999 = append(p999, f.p999)
	}
	var client, server, wal []float64
	for _, f := range reps {
		if f.cost.ClientCPU > 0 {
			client = append(client, us(f.cost.ClientCPU))
		}
		if f.cost.ServerCPU > 0 {
			server = append(server, us(f.cost.ServerCPU))
		}
		if f.cost.WALBytes > 0 {
			wal = append(wal, f.cost.WALBytes)
		}
	}
	var extra map[string]Spread
	names := map[string][]float64{}
	for _, f := range reps {
		for k, v := range f.extra {
			names[k] = append(names[k], v)
		}
	}
	if len(names) > 0 {
		extra = make(map[string]Spread, len(names))
		for k, vs := range names {
			extra[k] = spreadOf(vs)
		}
	}
	return &Figure{
		Rate: spreadOf(rate), P50: spreadOf(p50), P99: spreadOf(p99), P999: spreadOf(p999), Reps: rate,
		ClientCPU: spreadOf(client), ServerCPU: spreadOf(server), WALBytes: spreadOf(wal),
		Extra: extra,
	}
}

// ratioOf is the ratio of the median rates, with the lowest and highest
// ratio of the same rep's figures.
func ratioOf(a, b []repFigures) *Spread {
	fa, fb := figureOf(a), figureOf(b)
	var per []float64
	for i := range min(len(a), len(b)) {
		if b[i].rate > 0 {
			per = append(per, a[i].rate/b[i].rate)
		}
	}
	s := spreadOf(per)
	s.Median = fa.Rate.Median / fb.Rate.Median
	return &s
}
