package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressMode is how a progressMeter writes.
type progressMode int

const (
	progressBar   progressMode = iota // one line redrawn with \r, on a terminal
	progressLines                     // a plain line now and then, for logs
	progressJSON                      // one JSON object per report
)

// progressMeter renders how far a job has got through the log: percent,
// rate and estimated time left, the rate measured over the last
// progressWindow so that the estimate follows the current pace.
type progressMeter struct {
	w     io.Writer
	mode  progressMode
	now   func() time.Time
	every time.Duration // least time between two reports, except the bar

	samples  []progressSample
	last     time.Time // last report
	lastLen  int       // length of the bar drawn last
	reported bool
}

type progressSample struct {
	at  time.Time
	pos uint64
}

// progressWindow is the span the rate is measured over.
const progressWindow = 10 * time.Second

// progressReport is one report, as --json prints it.
type progressReport struct {
	Position        uint64  `json:"position"`
	Head            uint64  `json:"head"`
	Percent         float64 `json:"percent"`
	EventsPerSecond float64 `json:"events_per_second"`
	// ETASeconds is -1 while the rate is unknown.
	ETASeconds float64 `json:"eta_seconds"`
}

// newProgressMeter picks the mode: JSON when asked, the bar on a terminal,
// plain lines every 5 seconds otherwise.
func newProgressMeter(w io.Writer, asJSON bool) *progressMeter {
	m := &progressMeter{w: w, now: time.Now, mode: progressLines, every: 5 * time.Second}
	switch {
	case asJSON:
		m.mode, m.every = progressJSON, time.Second
	case isTerminal(w):
		m.mode, m.every = progressBar, 0
	}
	return m
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update records that pos of head events are done and reports it if it is
// time to.
func (m *progressMeter) update(pos, head uint64) {
	now := m.now()
	m.samples = append(m.samples, progressSample{at: now, pos: pos})
	for len(m.samples) > 2 && now.Sub(m.samples[1].at) >= progressWindow {
		m.samples = m.samples[1:]
	}
	if m.reported && now.Sub(m.last) < m.every {
		return
	}
	m.reported, m.last = true, now
	m.write(m.report(pos, head))
}

func (m *progressMeter) report(pos, head uint64) progressReport {
	r := progressReport{Position: pos, Head: max(head, pos), ETASeconds: -1}
	if r.Head > 0 {
		r.Percent = 100 * float64(pos) / float64(r.Head)
	} else {
		r.Percent = 100
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	if dt := last.at.Sub(first.at).Seconds(); dt > 0 && last.pos >= first.pos {
		r.EventsPerSecond = float64(last.pos-first.pos) / dt
	}
	switch {
	case pos >= r.Head:
		r.ETASeconds = 0
	case r.EventsPerSecond > 0:
		r.ETASeconds = float64(r.Head-pos) / r.EventsPerSecond
	}
	return r
}

func (m *progressMeter) write(r progressReport) {
	switch m.mode {
	case progressJSON:
		b, _ := json.Marshal(r)
		fmt.Fprintf(m.w, "%s\n", b)
	case progressLines:
		fmt.Fprintf(m.w, "%5.1f%%  %d/%d events  %s  ETA %s\n", r.Percent, r.Position, r.Head, rate(r.EventsPerSecond), eta(r.ETASeconds))
	case progressBar:
		const width = 30
		filled := min(int(r.Percent/100*width), width)
		line := fmt.Sprintf("\r[%s%s] %5.1f%%  %d/%d events  %s  ETA %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			r.Percent, r.Position, r.Head, rate(r.EventsPerSecond), eta(r.ETASeconds))
		pad := max(m.lastLen-len(line), 0) // wipe what a longer line left
		m.lastLen = len(line)
		fmt.Fprint(m.w, line+strings.Repeat(" ", pad))
	}
}

// complete reports pos of head, whenever the last report was, and ends
// the bar's line.
func (m *progressMeter) complete(pos, head uint64) {
	m.reported = false
	m.update(pos, head)
	m.finish()
}

// finish ends the bar's line.
func (m *progressMeter) finish() {
	if m.mode == progressBar && m.reported {
		fmt.Fprintln(m.w)
	}
}

func rate(eps float64) string {
	if eps <= 0 {
		return "- events/s"
	}
	return fmt.Sprintf("%.0f events/s", eps)
}

func eta(seconds float64) string {
	if seconds < 0 {
		return "unknown"
	}
	return (time.Duration(seconds) * time.Second).Round(time.Second).String()
}
