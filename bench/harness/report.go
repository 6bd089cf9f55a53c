package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is the outcome of a Run.
type Report struct {
	Started time.Time `json:"started"`
	Mode    string    `json:"mode"`
	Reps    int       `json:"reps"`
	// Warmup and Window are the budget of each measurement, in seconds.
	Warmup    float64          `json:"warmup_seconds"`
	Window    float64          `json:"window_seconds"`
	Machine   Machine          `json:"machine"`
	Scenarios []ScenarioResult `json:"scenarios"`
}

// ScenarioResult is what became of one scenario.
type ScenarioResult struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Reason says why a scenario failed or is not implemented.
	Reason string `json:"reason,omitempty"`
	Rows   []Row  `json:"rows,omitempty"`
}

// Row compares eventfold with one baseline in one cell.
type Row struct {
	Scenario int    `json:"scenario"`
	Cell     string `json:"cell"`
	// Unit is what the rates count per second, for example "events".
	Unit string `json:"unit"`
	// Eventfold is nil when eventfold's side is not implemented yet;
	// EventfoldPending then says why.
	Eventfold        *Figure `json:"eventfold"`
	EventfoldPending string  `json:"eventfold_pending,omitempty"`
	Baseline         string  `json:"baseline"`
	BaselineFigure   *Figure `json:"baseline_figure"`
	// Ratio is eventfold's rate over the baseline's: the ratio of the
	// medians, with the lowest and highest ratio within one rep.
	Ratio *Spread `json:"ratio,omitempty"`
	// P99Ratio is the baseline's median p99 over eventfold's: above 1
	// means eventfold's tail is shorter.
	P99Ratio *float64 `json:"p99_ratio,omitempty"`
}

// Figure is one contender's figures in one cell over the repetitions.
type Figure struct {
	// Rate is in Unit per second.
	Rate Spread `json:"rate"`
	// P50, P99 and P999 are per-operation latencies in milliseconds: each
	// rep's percentile, then the median over reps with min and max.
	P50  Spread `json:"p50_ms"`
	P99  Spread `json:"p99_ms"`
	P999 Spread `json:"p999_ms"`
	// Reps are the rates of the individual reps, in the order they ran.
	Reps []float64 `json:"reps"`
	// ClientCPU and ServerCPU are CPU microseconds per unit, of this
	// process and of the local PostgreSQL processes; WALBytes is the WAL
	// written per unit. Null where not measured.
	ClientCPU Spread `json:"client_cpu_us"`
	ServerCPU Spread `json:"server_cpu_us"`
	WALBytes  Spread `json:"wal_bytes"`
	// Extra are the scenario's own figures (Sample.Extra), by name.
	Extra map[string]Spread `json:"extra,omitempty"`
}

// Err joins the failures of every failed scenario, or returns nil.
func (r *Report) Err() error {
	var errs []error
	for _, s := range r.Scenarios {
		if s.Status == StatusFailed {
			errs = append(errs, fmt.Errorf("scenario %d %s: %s", s.ID, s.Name, s.Reason))
		}
	}
	return errors.Join(errs...)
}

// WriteJSON writes the report as indented JSON to the named file.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("harness: encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("harness: write report: %w", err)
	}
	return nil
}

// MarshalJSON writes NaN, which JSON lacks, as null.
func (s Spread) MarshalJSON() ([]byte, error) {
	f := func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "null"
		}
		return strconv.FormatFloat(x, 'g', 6, 64)
	}
	return []byte(`{"median":` + f(s.Median) + `,"min":` + f(s.Min) + `,"max":` + f(s.Max) + `}`), nil
}

// WriteTable prints the report as a header and a Markdown table, then the
// scenarios that did not produce rows.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "eventfold benchmark, %s mode: %d rep(s) of %gs per contender and cell after %gs warm-up, rep-major; started %s\n",
		r.Mode, r.Reps, r.Window, r.Warmup, r.Started.Format(time.RFC3339))
	fmt.Fprintf(&b, "machine: %d CPUs (%s), GOMAXPROCS %d, %s %s\n", m.CPUs, orDash(m.CPUModel), m.GOMAXPROCS, m.Go, m.OS)
	if m.Postgres != "" {
		fmt.Fprintf(&b, "PostgreSQL %s, synchronous_commit=%s, shared_buffers=%s\n", m.Postgres, m.SynchronousCommit, m.SharedBuffers)
	}
	if m.Redis != "" {
		fmt.Fprintf(&b, "Redis %s\n", m.Redis)
	}
	b.WriteString("figures: median [min–max] over reps; latencies in ms per operation (one call), median over reps of each rep's percentile\n\n")

	b.WriteString("| # | cell | eventfold | baseline | baseline figure | eventfold/baseline | eventfold p50 / p99 / p99.9 ms | baseline p50 / p99 / p99.9 ms | baseline p99 / eventfold p99 |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Scenarios {
		for _, row := range s.Rows {
			ef, efLat, ratio, p99 := "n/a", "n/a", "n/a", "n/a"
			if row.Eventfold != nil {
				ef = rate(row.Eventfold.Rate, row.Unit)
				efLat = latencies(row.Eventfold)
				ratio = percent(*row.Ratio)
				if row.P99Ratio != nil {
					p99 = fmt.Sprintf("%.2f×", *row.P99Ratio)
				}
			} else if row.EventfoldPending != "" {
				ef = "not yet implemented (" + row.EventfoldPending + ")"
			}
			fmt.Fprintf(&b, "| %d %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				s.ID, s.Name, row.Cell, ef, row.Baseline, rate(row.BaselineFigure.Rate, row.Unit), ratio, efLat, latencies(row.BaselineFigure), p99)
		}
	}
	b.WriteString("\nResources per unit (median over reps): CPU µs of this process and of the local PostgreSQL processes, WAL bytes written by the cluster.\n\n")
	b.WriteString("| # | cell | contender | client CPU µs | server CPU µs | WAL bytes |\n|---|---|---|---|---|---|\n")
	for _, s := range r.Scenarios {
		seen := map[string]bool{}
		for _, row := range s.Rows {
			for _, c := range []struct {
				name string
				f    *Figure
			}{{"eventfold", row.Eventfold}, {row.Baseline, row.BaselineFigure}} {
				if c.f == nil || seen[row.Cell+"\x00"+c.name] {
					continue
				}
				seen[row.Cell+"\x00"+c.name] = true
				fmt.Fprintf(&b, "| %d %s | %s | %s | %s | %s | %s |\n", s.ID, s.Name, row.Cell, c.name,
					short(c.f.ClientCPU.Median), short(c.f.ServerCPU.Median), group(c.f.WALBytes.Median))
			}
		}
	}
	b.WriteString(extras(r))
	var rest []string
	for _, s := range r.Scenarios {
		if s.Status != StatusOK {
			rest = append(rest, fmt.Sprintf("- %d %s (%s): %s: %s", s.ID, s.Name, s.Title, s.Status, strings.TrimPrefix(s.Reason, "not yet implemented: ")))
		}
	}
	if len(rest) > 0 {
		b.WriteString("\n" + strings.Join(rest, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// extras prints the scenarios' own figures, one line per contender, cell
// and name, or nothing when there are none.
func extras(r *Report) string {
	var b strings.Builder
	for _, s := range r.Scenarios {
		seen := map[string]bool{}
		for _, row := range s.Rows {
			for _, c := range []struct {
				name string
				f    *Figure
			}{{"eventfold", row.Eventfold}, {row.Baseline, row.BaselineFigure}} {
				if c.f == nil || len(c.f.Extra) == 0 || seen[row.Cell+"\x00"+c.name] {
					continue
				}
				seen[row.Cell+"\x00"+c.name] = true
				names := make([]string, 0, len(c.f.Extra))
				for k := range c.f.Extra {
					names = append(names, k)
				}
				slices.Sort(names)
				for _, k := range names {
					v := c.f.Extra[k]
					fmt.Fprintf(&b, "| %d %s | %s | %s | %s | %s [%s–%s] |\n", s.ID, s.Name, row.Cell, c.name, k, short(v.Median), short(v.Min), short(v.Max))
				}
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nOther figures (median [min–max] over reps).\n\n| # | cell | contender | figure | value |\n|---|---|---|---|---|\n" + b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func rate(s Spread, unit string) string {
	return fmt.Sprintf("%s %s/s [%s–%s]", group(s.Median), unit, group(s.Min), group(s.Max))
}

func percent(s Spread) string {
	return fmt.Sprintf("**%.0f%%** [%.0f–%.0f%%]", 100*s.Median, 100*s.Min, 100*s.Max)
}

func latencies(f *Figure) string {
	return fmt.Sprintf("%s / %s / %s", short(f.P50.Median), short(f.P99.Median), short(f.P999.Median))
}

// short formats a number of milliseconds with three significant digits.
func short(x float64) string {
	switch {
	case math.IsNaN(x):
		return "-"
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case x >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

// group formats a rate rounded to an integer with thousands separators.
func group(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
