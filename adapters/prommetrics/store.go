package prommetrics

import (
	"context"
	"errors"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/prometheus/client_golang/prometheus"
)

// Append outcomes, the values of the outcome label of
// eventfold_store_appends_total.
const (
	OutcomeOK       = "ok"
	OutcomeReplayed = "replayed"
	OutcomeConflict = "conflict"
	OutcomeError    = "error"
)

type storeMetrics struct {
	appends  *prometheus.CounterVec   // outcome
	latency  *prometheus.HistogramVec // outcome
	events   prometheus.Counter
	readTime *prometheus.HistogramVec // read: stream, all
}

func newStoreMetrics(reg prometheus.Registerer, opts *Options) (*storeMetrics, error) {
	var m storeMetrics
	var errs [4]error
	m.appends, errs[0] = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eventfold_store_appends_total",
		Help: "Appends to the event store, by outcome: ok, replayed (an idempotent retry that stored nothing), conflict (stream not at the expected version), error.",
	}, []string{"outcome"}))
	m.latency, errs[1] = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "eventfold_store_append_duration_seconds",
		Help:    "Latency of appends to the event store, by outcome.",
		Buckets: opts.buckets(),
	}, []string{"outcome"}))
	m.events, errs[2] = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eventfold_store_events_appended_total",
		Help: "Events stored by successful appends (replays store none).",
	}))
	m.readTime, errs[3] = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "eventfold_store_read_duration_seconds",
		Help:    "Latency of event store reads: read=stream (ReadStream) or read=all (ReadAll, the projections' and relay's tail).",
		Buckets: opts.buckets(),
	}, []string{"read"}))
	return &m, errors.Join(errs[:]...)
}

func (m *storeMetrics) observeAppend(start time.Time, n int, res eventstore.AppendResult, err error) {
	outcome := OutcomeOK
	switch {
	case errors.Is(err, eventstore.ErrConcurrency):
		outcome = OutcomeConflict
	case err != nil:
		outcome = OutcomeError
	case res.Replayed:
		outcome = OutcomeReplayed
	default:
		m.events.Add(float64(n))
	}
	m.appends.WithLabelValues(outcome).Inc()
	m.latency.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}

// Store returns inner decorated with metrics registered with reg:
//
//	eventfold_store_appends_total{outcome}            counter
//	eventfold_store_append_duration_seconds{outcome}  histogram
//	eventfold_store_events_appended_total             counter
//	eventfold_store_read_duration_seconds{read}       histogram
//
// The result is an eventstore.Instrument of inner: it keeps every
// capability of inner and claims none inner lacks (see eventstore.As).
// The appends of its eventstore.KeyedAppender and eventstore.OutcomeStore
// are counted too, and so are the calls of its tenant views
// (eventstore.ForTenant and eventstore.AllTenants of the result, when inner
// has them).
func Store(inner eventstore.Store, reg prometheus.Registerer, opts *Options) (eventstore.Store, error) {
	if inner == nil {
		return nil, errors.New("prommetrics: Store needs an event store")
	}
	if reg == nil {
		return nil, errNilRegisterer
	}
	m, err := newStoreMetrics(reg, opts)
	if err != nil {
		return nil, err
	}
	return eventstore.Instrument(inner, eventstore.Hooks{
		Append: func(ctx context.Context, _ string, events []eventstore.Event,
			next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
			start := time.Now()
			res, err := next(ctx, events)
			m.observeAppend(start, len(events), res, err)
			return res, err
		},
		ReadStream: func(ctx context.Context, _ string, next func(context.Context) ([]eventstore.Record, error)) ([]eventstore.Record, error) {
			return m.timeRead(ctx, "stream", next)
		},
		ReadAll: func(ctx context.Context, next func(context.Context) ([]eventstore.Record, error)) ([]eventstore.Record, error) {
			return m.timeRead(ctx, "all", next)
		},
	}), nil
}

func (m *storeMetrics) timeRead(ctx context.Context, read string, next func(context.Context) ([]eventstore.Record, error)) ([]eventstore.Record, error) {
	start := time.Now()
	recs, err := next(ctx)
	m.readTime.WithLabelValues(read).Observe(time.Since(start).Seconds())
	return recs, err
}
