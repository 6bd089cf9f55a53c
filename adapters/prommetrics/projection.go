package prommetrics

import (
	"errors"
	"strconv"
	"time"

	"github.com/eventfold/eventfold/projection"
	"github.com/prometheus/client_golang/prometheus"
)

var runnerLabels = []string{"projection", "version", "tenant", "partition"}

// ProjectionHooks returns projection.Hooks that record, with metrics
// registered with reg:
//
//	eventfold_projection_batch_events{projection, version, tenant, partition}            histogram
//	eventfold_projection_batch_duration_seconds{projection, version, tenant, partition}  histogram
//	eventfold_projection_retries_total{projection, version, tenant, partition, stage}    counter
//
// Set them as projection.Config.Hooks of every Runner; one Hooks value
// serves any number of Runners. stage is "handler" (a handler failed and
// is retried; MaxAttempts failures fault the projection) or "commit"
// (writing to the read-model store failed, usually Redis unreachable).
func ProjectionHooks(reg prometheus.Registerer, opts *Options) (*projection.Hooks, error) {
	if reg == nil {
		return nil, errNilRegisterer
	}
	sizes, err1 := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "eventfold_projection_batch_events",
		Help:    "Events applied per committed projection batch.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000},
	}, runnerLabels))
	latency, err2 := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "eventfold_projection_batch_duration_seconds",
		Help:    "Time to apply and commit one projection batch, prefetch and handlers included.",
		Buckets: opts.buckets(),
	}, runnerLabels))
	retries, err3 := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eventfold_projection_retries_total",
		Help: "Retries by projection runners, by stage: handler (a failing event handler) or commit (a failed read-model write).",
	}, append(runnerLabels[:4:4], "stage")))
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	return &projection.Hooks{
		BatchApplied: func(b projection.BatchInfo) {
			part := strconv.Itoa(b.Partition)
			sizes.WithLabelValues(b.Projection, b.Version, b.Tenant, part).Observe(float64(b.Events))
			latency.WithLabelValues(b.Projection, b.Version, b.Tenant, part).Observe(b.Duration.Seconds())
		},
		Retried: func(r projection.RetryInfo) {
			retries.WithLabelValues(r.Projection, r.Version, r.Tenant, strconv.Itoa(r.Partition), r.Stage).Inc()
		},
	}, nil
}

// ProjectionCollector is a prometheus.Collector that reads the Status of
// projection Runners at every scrape. Register it with a Registerer.
type ProjectionCollector struct {
	runners []*projection.Runner
}

var _ prometheus.Collector = (*ProjectionCollector)(nil)

// NewProjectionCollector returns a collector of the runners' status:
//
//	eventfold_projection_position_sequence    the sequence of the checkpoint
//	eventfold_projection_head_sequence        the sequence of the log's head
//	eventfold_projection_lag_events           events behind the head (may overcount)
//	eventfold_projection_lag_seconds          age of the last event applied, while behind
//	eventfold_projection_events_per_second    recent apply rate
//	eventfold_projection_remaining_seconds    estimated time to catch up
//	eventfold_projection_faulted              1 while stopped on a failing event
//	eventfold_projection_unavailable_seconds  how long the read-model store or log has been unreachable
//	eventfold_projection_active               1 when readers are served from this version
//	eventfold_projection_state{state}         1 for the current state, 0 for the others
//
// all labelled projection, version, tenant and partition. Head and the
// lag need a source that knows the head (projection.LogSource over a store
// with an eventstore.HeadReader, as pgstore has).
func NewProjectionCollector(runners ...*projection.Runner) *ProjectionCollector {
	return &ProjectionCollector{runners: runners}
}

func gaugeDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(runnerLabels[:4:4], extra...), nil)
}

var (
	descPosition  = gaugeDesc("eventfold_projection_position_sequence", "Sequence of the last position the projection applied (its checkpoint).")
	descHead      = gaugeDesc("eventfold_projection_head_sequence", "Sequence of the last position of the log, when the source knows it.")
	descLagEvents = gaugeDesc("eventfold_projection_lag_events", "Approximate number of events the projection is behind the head of the log.")
	descLagTime   = gaugeDesc("eventfold_projection_lag_seconds", "Age of the last event applied when it was applied, while behind; 0 when caught up.")
	descRate      = gaugeDesc("eventfold_projection_events_per_second", "Recent apply rate of the projection.")
	descRemaining = gaugeDesc("eventfold_projection_remaining_seconds", "Estimated time to catch up; 0 when caught up or unknown.")
	descFaulted   = gaugeDesc("eventfold_projection_faulted", "1 while the projection is stopped on an event whose handler keeps failing.")
	descUnavail   = gaugeDesc("eventfold_projection_unavailable_seconds", "How long the projection's read-model store or log has been unreachable (the runner retrying); 0 while reachable.")
	descActive    = gaugeDesc("eventfold_projection_active", "1 when readers are served from this version of the projection.")
	descState     = gaugeDesc("eventfold_projection_state", "1 for the runner's current state, 0 for the others.", "state")
)

var states = []projection.State{
	projection.StateStarting, projection.StateCatchingUp, projection.StateRunning,
	projection.StateRebuilding, projection.StateFaulted, projection.StateUnavailable, projection.StateRetired, projection.StateStopped,
}

// Describe implements prometheus.Collector.
func (c *ProjectionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPosition, descHead, descLagEvents, descLagTime, descRate,
		descRemaining, descFaulted, descUnavail, descActive, descState} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ProjectionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.runners {
		st := r.Status()
		labels := []string{st.Projection, st.Version, st.Tenant, strconv.Itoa(st.Partition)}
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(labels[:4:4], extra...)...)
		}
		gauge(descPosition, float64(st.Position.Sequence))
		gauge(descHead, float64(st.Head.Sequence))
		gauge(descLagEvents, float64(st.LagEvents))
		gauge(descLagTime, st.LagTime.Seconds())
		gauge(descRate, st.EventsPerSecond)
		gauge(descRemaining, st.Remaining.Seconds())
		gauge(descFaulted, boolFloat(st.Fault != nil))
		unavailable := 0.0
		if !st.UnavailableSince.IsZero() {
			unavailable = time.Since(st.UnavailableSince).Seconds()
		}
		gauge(descUnavail, unavailable)
		gauge(descActive, boolFloat(st.Active))
		for _, s := range states {
			gauge(descState, boolFloat(st.State == s), string(s))
		}
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
