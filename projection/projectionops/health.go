package projectionops

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// DefaultStallAfter is how long a projection may stay behind the head
// without applying anything before a HealthCheck calls it stalled.
const DefaultStallAfter = time.Minute

// DefaultUnavailableAfter is how long a projection's read-model store or
// log may stay unreachable before a HealthCheck calls it unhealthy.
const DefaultUnavailableAfter = 30 * time.Second

// HealthOptions configures a HealthCheck. A nil *HealthOptions means all
// defaults.
type HealthOptions struct {
	// StallAfter is how long a partition may stay behind the head with its
	// position unchanged before it counts as stalled. Zero means
	// DefaultStallAfter.
	StallAfter time.Duration
	// MaxLag, when positive, makes a partition unhealthy whose last
	// applied event was older than this when applied, even while it
	// advances. Zero means no limit: a projection catching up after a
	// deploy or a rebuild is not an outage as long as it moves.
	MaxLag time.Duration
	// UnavailableAfter is how long a partition may stay in
	// projection.StateUnavailable (its read-model store or log unreachable,
	// the runner retrying) before it counts as unhealthy. Shorter outages,
	// a Redis failover say, are not worth restarting a process for.
	// Zero means DefaultUnavailableAfter.
	UnavailableAfter time.Duration
}

// HealthCheck tells whether projections are healthy, for a liveness or
// readiness probe. A partition is unhealthy when it is faulted (stopped on
// a failing event), when its runner has stopped, when its read-model store
// or log has been unreachable for HealthOptions.UnavailableAfter, when it
// is behind the head and has not applied anything for
// HealthOptions.StallAfter, or when it lags more than HealthOptions.MaxLag.
// A partition that is behind but advancing is healthy. Stalls are seen across calls: each call notes every partition's
// position, so call it periodically (a probe does). A HealthCheck is safe
// for concurrent use; it serves HTTP too (see ServeHTTP).
type HealthCheck struct {
	statuses func() []projection.Status
	opts     HealthOptions
	now      func() time.Time

	mu   sync.Mutex
	seen map[healthKey]progress
}

type healthKey struct {
	projection, version, tenant string
	partition                   int
}

// progress is where a partition was when last seen moving or caught up,
// and when.
type progress struct {
	position eventstore.Position
	since    time.Time
}

// NewHealthCheck returns a HealthCheck over the partitions statuses
// returns: RunnerStatuses for Runners, Group.Status for a Group, or a
// function joining several.
func NewHealthCheck(statuses func() []projection.Status, opts *HealthOptions) (*HealthCheck, error) {
	if statuses == nil {
		return nil, errors.New("projectionops: NewHealthCheck: statuses is nil")
	}
	h := &HealthCheck{statuses: statuses, now: time.Now, seen: map[healthKey]progress{}}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.StallAfter <= 0 {
		h.opts.StallAfter = DefaultStallAfter
	}
	if h.opts.UnavailableAfter <= 0 {
		h.opts.UnavailableAfter = DefaultUnavailableAfter
	}
	return h, nil
}

// RunnerStatuses returns a function reporting the Status of each of
// runners, for NewHealthCheck.
func RunnerStatuses(runners ...*projection.Runner) func() []projection.Status {
	return func() []projection.Status {
		out := make([]projection.Status, len(runners))
		for i, r := range runners {
			out[i] = r.Status()
		}
		return out
	}
}

// PartitionHealth is one partition's verdict.
type PartitionHealth struct {
	Projection string           `json:"projection"`
	Version    string           `json:"version"`
	Tenant     string           `json:"tenant"`
	Partition  int              `json:"partition"`
	State      projection.State `json:"state"`
	LagEvents  uint64           `json:"lag_events"`
	LagSeconds float64          `json:"lag_seconds"`
	// UnavailableSeconds is how long its read-model store or log has been
	// unreachable, in projection.StateUnavailable.
	UnavailableSeconds float64 `json:"unavailable_seconds,omitempty"`
	// Problem says why the partition is unhealthy; empty when it is not.
	Problem string `json:"problem,omitempty"`
}

// HealthReport is the outcome of one check.
type HealthReport struct {
	Healthy    bool              `json:"healthy"`
	Partitions []PartitionHealth `json:"partitions"`
}

// ErrUnhealthy is matched by the error Check returns when a projection is
// unhealthy.
var ErrUnhealthy = errors.New("projectionops: unhealthy")

// Check returns nil when every partition is healthy, or an error matching
// ErrUnhealthy that names each unhealthy partition and why.
func (h *HealthCheck) Check() error {
	r := h.Report()
	if r.Healthy {
		return nil
	}
	var problems []string
	for _, p := range r.Partitions {
		if p.Problem != "" {
			problems = append(problems, fmt.Sprintf("%s version %s tenant %q partition %d: %s", p.Projection, p.Version, p.Tenant, p.Partition, p.Problem))
		}
	}
	return fmt.Errorf("%w: %s", ErrUnhealthy, strings.Join(problems, "; "))
}

// Report checks every partition and returns the verdicts.
func (h *HealthCheck) Report() HealthReport {
	statuses := h.statuses()
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := HealthReport{Healthy: true, Partitions: make([]PartitionHealth, 0, len(statuses))}
	current := make(map[healthKey]bool, len(statuses))
	for _, s := range statuses {
		key := healthKey{s.Projection, s.Version, s.Tenant, s.Partition}
		current[key] = true
		prev, ok := h.seen[key]
		// Moving, or caught up, is progress: a stall is counted from the
		// last time the partition was either.
		if !ok || prev.position != s.Position || s.LagEvents == 0 {
			prev = progress{position: s.Position, since: now}
			h.seen[key] = prev
		}
		p := PartitionHealth{Projection: s.Projection, Version: s.Version, Tenant: s.Tenant, Partition: s.Partition,
			State: s.State, LagEvents: s.LagEvents, LagSeconds: s.LagTime.Seconds()}
		if s.State == projection.StateUnavailable {
			p.UnavailableSeconds = now.Sub(s.UnavailableSince).Seconds()
		}
		switch still := now.Sub(prev.since); {
		case s.State == projection.StateFaulted:
			p.Problem = "faulted"
			if s.Fault != nil {
				p.Problem += ": " + s.Fault.Err
			}
		case s.State == projection.StateStopped:
			p.Problem = "stopped: its runner has returned (cancelled, or retired by a newer version)"
		case s.State == projection.StateUnavailable && now.Sub(s.UnavailableSince) >= h.opts.UnavailableAfter:
			p.Problem = fmt.Sprintf("store unavailable for %s (more than %s); the runner keeps retrying: %s",
				now.Sub(s.UnavailableSince).Round(time.Second), h.opts.UnavailableAfter, s.LastError)
		case s.State == projection.StateUnavailable:
			// Judged by UnavailableAfter alone: an outage stalls every
			// partition, which is not a further problem.
		case s.LagEvents > 0 && still >= h.opts.StallAfter:
			p.Problem = fmt.Sprintf("stalled: %d events behind the head and nothing applied for %s"+
				" (if appends succeed, an open transaction may hold the log back: eventfold horizon)",
				s.LagEvents, still.Round(time.Second))
		case h.opts.MaxLag > 0 && s.LagTime > h.opts.MaxLag:
			p.Problem = fmt.Sprintf("lagging: %s behind, more than %s", s.LagTime.Round(time.Second), h.opts.MaxLag)
		}
		if p.Problem != "" {
			r.Healthy = false
		}
		r.Partitions = append(r.Partitions, p)
	}
	for key := range h.seen { // partitions handed to another worker
		if !current[key] {
			delete(h.seen, key)
		}
	}
	return r
}

// ServeHTTP answers a probe: 200 when every partition is healthy, 503
// otherwise, with the HealthReport as JSON either way.
func (h *HealthCheck) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r := h.Report()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !r.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(r) // the client is gone if this fails
}
