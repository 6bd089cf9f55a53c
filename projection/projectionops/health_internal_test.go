package projectionops

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// TestHealthCheckVerdicts drives a HealthCheck through the states a
// partition goes through, with a clock the test moves.
func TestHealthCheckVerdicts(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	st := projection.Status{Projection: "orders", Version: "1", State: projection.StateRunning, Position: eventstore.Position{Commit: 1, Sequence: 10}}
	h, err := NewHealthCheck(func() []projection.Status { return []projection.Status{st} }, &HealthOptions{StallAfter: time.Minute, MaxLag: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	h.now = func() time.Time { return now }
	step := func(name string, d time.Duration, change func(*projection.Status), wantProblem string) {
		t.Helper()
		now = now.Add(d)
		if change != nil {
			change(&st)
		}
		r := h.Report()
		got := r.Partitions[0].Problem
		if (wantProblem == "") != (got == "") || !strings.Contains(got, wantProblem) || r.Healthy != (wantProblem == "") {
			t.Errorf("%s: healthy %v, problem %q; want problem containing %q", name, r.Healthy, got, wantProblem)
		}
		if err := h.Check(); (err == nil) != (wantProblem == "") || (err != nil && !errors.Is(err, ErrUnhealthy)) {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
	step("caught up", 0, nil, "")
	step("caught up and idle for an hour", time.Hour, nil, "")
	step("behind, just noticed", 0, func(s *projection.Status) { s.LagEvents = 500 }, "")
	step("behind, advancing", 50*time.Second, func(s *projection.Status) { s.Position.Sequence = 20 }, "")
	step("behind, advancing again", 50*time.Second, func(s *projection.Status) { s.Position.Sequence = 30 }, "")
	step("behind, still for 50 s", 50*time.Second, nil, "")
	step("behind, still for 70 s", 20*time.Second, nil, "stalled: 500 events behind")
	step("moving again", time.Second, func(s *projection.Status) { s.Position.Sequence = 40 }, "")
	step("lagging beyond MaxLag while moving", time.Second, func(s *projection.Status) { s.Position.Sequence = 50; s.LagTime = 11 * time.Minute }, "lagging")
	step("caught up after all", time.Second, func(s *projection.Status) { s.LagEvents, s.LagTime = 0, 0 }, "")
	step("store unavailable, briefly", time.Second, func(s *projection.Status) {
		s.State, s.UnavailableSince, s.LastError = projection.StateUnavailable, now, "connection refused"
	}, "")
	step("store unavailable for 20 s, a stall as well", 20*time.Second, func(s *projection.Status) { s.LagEvents = 100 }, "")
	step("store unavailable for 31 s", 11*time.Second, nil, "store unavailable for 31s (more than 30s)")
	step("store back, caught up", time.Second, func(s *projection.Status) {
		s.State, s.UnavailableSince, s.LastError, s.LagEvents = projection.StateRunning, time.Time{}, "", 0
	}, "")
	step("faulted", time.Second, func(s *projection.Status) {
		s.State = projection.StateFaulted
		s.Fault = &projection.Fault{Err: "decode OrderPlaced"}
	}, "faulted: decode OrderPlaced")
	step("stopped", time.Second, func(s *projection.Status) { s.State, s.Fault = projection.StateStopped, nil }, "stopped")
}

// TestHealthCheckServesHTTP: 200 with the report while healthy, 503 when
// not.
func TestHealthCheckServesHTTP(t *testing.T) {
	st := projection.Status{Projection: "orders", Version: "1", State: projection.StateRunning}
	h, err := NewHealthCheck(func() []projection.Status { return []projection.Status{st} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		state projection.State
		code  int
		body  string
	}{{projection.StateRunning, http.StatusOK, `"healthy":true`}, {projection.StateFaulted, http.StatusServiceUnavailable, `"problem":"faulted"`}} {
		st.State = c.state
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.body) || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %q; want %d with %s", c.state, w.Code, w.Header().Get("Content-Type"), w.Body.String(), c.code, c.body)
		}
	}
	if _, err := NewHealthCheck(nil, nil); err == nil {
		t.Error("NewHealthCheck(nil) succeeded")
	}
}
