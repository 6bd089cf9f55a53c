package prommetrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
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
// The result implements the optional interfaces inner does that other
// packages look for: eventstore.KeyedAppender (its appends are counted too)
// and projection.HeadReader. It always implements projection.Notifier:
// through inner's Changed when inner has one, otherwise by waking tailers
// after each append made through the decorator.
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
	s := &store{inner: inner, m: m}
	s.notifier, _ = inner.(projection.Notifier)
	keyed, isKeyed := inner.(eventstore.KeyedAppender)
	head, hasHead := inner.(projection.HeadReader)
	switch {
	case isKeyed && hasHead:
		return &keyedHeadStore{keyedStore{s, keyed}, head}, nil
	case isKeyed:
		return &keyedStore{s, keyed}, nil
	case hasHead:
		return &headStore{s, head}, nil
	}
	return s, nil
}

// store is the decorator for a store with no optional interfaces.
type store struct {
	inner    eventstore.Store
	m        *storeMetrics
	notifier projection.Notifier // inner's, or nil

	mu      sync.Mutex
	changed chan struct{} // used when notifier is nil
}

var (
	_ projection.Notifier      = (*store)(nil)
	_ eventstore.KeyedAppender = (*keyedStore)(nil)
	_ projection.HeadReader    = (*headStore)(nil)
	_ eventstore.KeyedAppender = (*keyedHeadStore)(nil)
	_ projection.HeadReader    = (*keyedHeadStore)(nil)
)

func (s *store) Append(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	start := time.Now()
	res, err := s.inner.Append(ctx, streamID, expected, events)
	s.m.observeAppend(start, len(events), res, err)
	s.wake(err)
	return res, err
}

func (s *store) ReadStream(ctx context.Context, streamID string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	start := time.Now()
	recs, err := s.inner.ReadStream(ctx, streamID, from, dir, limit)
	s.m.readTime.WithLabelValues("stream").Observe(time.Since(start).Seconds())
	return recs, err
}

func (s *store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	start := time.Now()
	recs, err := s.inner.ReadAll(ctx, after, limit)
	s.m.readTime.WithLabelValues("all").Observe(time.Since(start).Seconds())
	return recs, err
}

// Changed implements projection.Notifier.
func (s *store) Changed() <-chan struct{} {
	if s.notifier != nil {
		return s.notifier.Changed()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// wake closes the channel Changed handed out, after a successful append,
// when inner cannot notify by itself.
func (s *store) wake(err error) {
	if err != nil || s.notifier != nil {
		return
	}
	s.mu.Lock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
}

type keyedStore struct {
	*store
	keyed eventstore.KeyedAppender
}

func (s *keyedStore) AppendKeyed(ctx context.Context, commandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	start := time.Now()
	res, err := s.keyed.AppendKeyed(ctx, commandKey, streamID, expected, events)
	s.m.observeAppend(start, len(events), res, err)
	s.wake(err)
	return res, err
}

type headStore struct {
	*store
	head projection.HeadReader
}

func (s *headStore) Head(ctx context.Context) (eventstore.Position, error) { return s.head.Head(ctx) }

type keyedHeadStore struct {
	keyedStore
	head projection.HeadReader
}

func (s *keyedHeadStore) Head(ctx context.Context) (eventstore.Position, error) {
	return s.head.Head(ctx)
}
