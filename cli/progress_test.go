package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func meter(mode progressMode) (*progressMeter, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newProgressMeter(&buf, mode == progressJSON)
	m.now, m.mode = clock.now, mode
	if mode == progressBar {
		m.every = 0
	}
	return m, &buf, clock
}

func TestProgressBarShowsPercentRateAndETA(t *testing.T) {
	m, buf, clock := meter(progressBar)
	m.update(0, 1000)
	if !strings.Contains(buf.String(), "ETA unknown") {
		t.Errorf("first report without a rate: %q", buf.String())
	}
	for i := 1; i <= 2; i++ {
		clock.add(time.Second)
		m.update(uint64(100*i), 1000)
	}
	last := buf.String()[strings.LastIndex(buf.String(), "\r"):]
	for _, want := range []string{"[######........................]", " 20.0%", "200/1000 events", "100 events/s", "ETA 8s"} {
		if !strings.Contains(last, want) {
			t.Errorf("bar %q lacks %q", last, want)
		}
	}
	m.finish()
	if !strings.HasSuffix(buf.String(), "\n") {
		t.Error("finish did not end the line")
	}
}

// The rate follows the recent pace, not the average since the start.
func TestProgressRateIsRecent(t *testing.T) {
	m, buf, clock := meter(progressBar)
	pos := uint64(0)
	for range 20 { // 1000 events/s for 20s
		m.update(pos, 100000)
		clock.add(time.Second)
		pos += 1000
	}
	for range 20 { // then 100 events/s
		m.update(pos, 100000)
		clock.add(time.Second)
		pos += 100
	}
	last := buf.String()[strings.LastIndex(buf.String(), "\r"):]
	if !strings.Contains(last, " 100 events/s") {
		t.Errorf("rate after slowing down: %q, want 100 events/s", last)
	}
}

func TestProgressLinesAreSpacedOut(t *testing.T) {
	m, buf, clock := meter(progressLines)
	for i := range 11 {
		m.update(uint64(i*10), 100)
		clock.add(time.Second)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || strings.Contains(buf.String(), "\r") {
		t.Fatalf("want 3 plain lines (at 0s, 5s, 10s), got %q", buf.String())
	}
	if !strings.Contains(lines[1], " 50.0%") || !strings.Contains(lines[1], "ETA 5s") {
		t.Errorf("line at 5s: %q", lines[1])
	}
}

func TestProgressJSON(t *testing.T) {
	m, buf, clock := meter(progressJSON)
	m.update(0, 400)
	clock.add(time.Second)
	m.update(100, 400)
	var reports []progressReport
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r progressReport
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		reports = append(reports, r)
	}
	want := progressReport{Position: 100, Head: 400, Percent: 25, EventsPerSecond: 100, ETASeconds: 3}
	if len(reports) != 2 || reports[0].ETASeconds != -1 || reports[1] != want {
		t.Errorf("reports = %+v; want the second to be %+v", reports, want)
	}
}
