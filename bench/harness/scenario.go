package harness

import (
	"context"
	"errors"
	"time"
)

// Scenario is one numbered scenario of the benchmark.
type Scenario interface {
	// ID is the scenario's number (1 to 12), as docs/performance.md lists them.
	ID() int
	// Name is a short, stable identifier, for example "append-1".
	Name() string
	// Title says what the scenario measures, in a few words.
	Title() string
	// Setup prepares the scenario (schemas, tables, clients) through env
	// and returns what to measure. It returns an error matching
	// ErrNotImplemented when the scenario cannot run yet.
	Setup(ctx context.Context, env *Env) (*Plan, error)
}

// ErrNotImplemented marks a scenario, or one side of a cell, that needs
// parts of eventfold that do not exist yet. Check it with errors.Is.
var ErrNotImplemented = errors.New("harness: not yet implemented")

// Plan is what a scenario measures.
type Plan struct {
	// Cells are measured in order, every repetition.
	Cells []Cell
	// Close, if not nil, releases what Setup acquired. Env.Close drops the
	// schemas, so Close need not.
	Close func(ctx context.Context) error
}

// Cell is one shape of work, for example "1 event per command, 16 writers",
// measured by eventfold and by each baseline.
type Cell struct {
	// Name tells the cell apart within its scenario, for example
	// "16 writers".
	Name string
	// Unit is what a Sample's Count counts, for example "events".
	// Throughput figures are Unit per second.
	Unit string
	// Eventfold measures eventfold. When nil, EventfoldPending says why.
	Eventfold *Contender
	// EventfoldPending explains a missing Eventfold contender.
	EventfoldPending string
	// Baselines are what eventfold is held against: the machine's raw
	// limit, then peers.
	Baselines []Contender
}

// Contender is one implementation measured in a cell.
type Contender struct {
	// Name identifies the contender in the report, for example
	// "raw pgx INSERT".
	Name string
	// Run measures once within budget, usually by calling Drive after
	// resetting its tables. It is called once per repetition.
	Run func(ctx context.Context, budget Budget) (Sample, error)
}

// Budget bounds one measurement.
type Budget struct {
	// Warmup runs the workload unmeasured before the window.
	Warmup time.Duration
	// Window is how long the measured part runs.
	Window time.Duration

	probe probe // set by Run: reads resource counters around the window
}

// Sample is the outcome of one measurement.
type Sample struct {
	// Count is the number of units done in the window (events appended,
	// queries answered).
	Count int64
	// Ops is the number of timed operations (calls) in the window.
	Ops int64
	// Elapsed is the window's real length: from its start to the end of
	// the last operation.
	Elapsed time.Duration
	// Latencies holds one duration per operation, in no particular order.
	Latencies []time.Duration
	// Cost is the resources the window used per unit, when Drive could
	// measure them.
	Cost Cost
	// Extra holds figures a scenario measures besides rate and latency
	// (for example "peak RSS MiB" or "shed"), by name. Each is reported
	// as the median over reps with its min and max.
	Extra map[string]float64
}

// Rate is Count per second.
func (s Sample) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Count) / s.Elapsed.Seconds()
}

// pending is a Scenario that cannot run yet.
type pending struct {
	id          int
	name, title string
	reason      string
}

// Pending returns a Scenario that is listed in the report as not yet
// implemented, with the reason given.
func Pending(id int, name, title, reason string) Scenario {
	return pending{id: id, name: name, title: title, reason: reason}
}

func (p pending) ID() int       { return p.id }
func (p pending) Name() string  { return p.name }
func (p pending) Title() string { return p.title }
func (p pending) Setup(context.Context, *Env) (*Plan, error) {
	return nil, &notImplementedError{reason: p.reason}
}

type notImplementedError struct{ reason string }

func (e *notImplementedError) Error() string { return "not yet implemented: " + e.reason }
func (e *notImplementedError) Unwrap() error { return ErrNotImplemented }
