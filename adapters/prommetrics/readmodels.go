package prommetrics

import (
	"context"
	"errors"
	"time"

	"github.com/eventfold/eventfold/readmodel"
	"github.com/prometheus/client_golang/prometheus"
)

// ReadModels returns inner decorated with metrics registered with reg:
//
//	eventfold_readmodel_operations_total{op, outcome}            counter
//	eventfold_readmodel_operation_duration_seconds{op, outcome}  histogram
//	eventfold_readmodel_stale_writes_total                       counter
//
// op is get, get_many, query, state, apply or drop; outcome is ok, error, or
// not_found for a Get of a missing document. Stale writes are writes an Apply
// ignored because the document already had a later revision (an event
// delivered twice); a steady stream of them means a feed redelivers a lot.
func ReadModels(inner readmodel.Store, reg prometheus.Registerer, opts *Options) (readmodel.Store, error) {
	if inner == nil {
		return nil, errors.New("prommetrics: ReadModels needs a read-model store")
	}
	if reg == nil {
		return nil, errNilRegisterer
	}
	var s readModels
	var errs [3]error
	s.inner = inner
	s.ops, errs[0] = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eventfold_readmodel_operations_total",
		Help: "Read-model store operations, by op (get, get_many, query, state, apply, drop) and outcome (ok, not_found, error).",
	}, []string{"op", "outcome"}))
	s.latency, errs[1] = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "eventfold_readmodel_operation_duration_seconds",
		Help:    "Latency of read-model store operations, by op and outcome.",
		Buckets: opts.buckets(),
	}, []string{"op", "outcome"}))
	s.stale, errs[2] = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eventfold_readmodel_stale_writes_total",
		Help: "Writes ignored by Apply because the document already carried the same or a later revision.",
	}))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return &s, nil
}

type readModels struct {
	inner   readmodel.Store
	ops     *prometheus.CounterVec
	latency *prometheus.HistogramVec
	stale   prometheus.Counter
}

var _ readmodel.Store = (*readModels)(nil)

// Unwrap returns the metered store, so that readmodel.As finds the
// capabilities it has beyond readmodel.Store (a Partitioned store's
// partitions, for one).
func (s *readModels) Unwrap() readmodel.Store { return s.inner }

func (s *readModels) observe(op string, start time.Time, err error) {
	outcome := OutcomeOK
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
		outcome = "not_found"
	case err != nil:
		outcome = OutcomeError
	}
	s.ops.WithLabelValues(op, outcome).Inc()
	s.latency.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}

func (s *readModels) Get(ctx context.Context, ns readmodel.Namespace, id string) (readmodel.Document, error) {
	start := time.Now()
	doc, err := s.inner.Get(ctx, ns, id)
	s.observe("get", start, err)
	return doc, err
}

func (s *readModels) GetMany(ctx context.Context, ns readmodel.Namespace, ids []string) ([]readmodel.Document, error) {
	start := time.Now()
	docs, err := s.inner.GetMany(ctx, ns, ids)
	s.observe("get_many", start, err)
	return docs, err
}

func (s *readModels) Query(ctx context.Context, ns readmodel.Namespace, q readmodel.Query) (readmodel.Page, error) {
	start := time.Now()
	page, err := s.inner.Query(ctx, ns, q)
	s.observe("query", start, err)
	return page, err
}

func (s *readModels) State(ctx context.Context, ns readmodel.Namespace) (readmodel.State, error) {
	start := time.Now()
	st, err := s.inner.State(ctx, ns)
	s.observe("state", start, err)
	return st, err
}

func (s *readModels) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	start := time.Now()
	res, err := s.inner.Apply(ctx, ns, b)
	s.observe("apply", start, err)
	if err == nil {
		s.stale.Add(float64(len(res.Stale)))
	}
	return res, err
}

func (s *readModels) Drop(ctx context.Context, ns readmodel.Namespace) error {
	start := time.Now()
	err := s.inner.Drop(ctx, ns)
	s.observe("drop", start, err)
	return err
}
