package prommetrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configures the metrics. A nil *Options means all defaults.
type Options struct {
	// Buckets are the upper bounds, in seconds, of the latency histograms.
	// Nil means 14 buckets from 0.5ms, doubling up to about 4s, which
	// covers a one-round-trip append and a Redis batch as well as a slow
	// rebuild batch.
	Buckets []float64
	// DomainError tells Commands which further errors are domain errors,
	// counted with outcome "domain_error". Errors matching
	// command.ErrRejected (everything a Decider's Decide returns) always
	// are; use this for refusals made elsewhere, for example in
	// middleware.
	DomainError func(error) bool
}

func (o *Options) buckets() []float64 {
	if o == nil || o.Buckets == nil {
		return prometheus.ExponentialBuckets(0.0005, 2, 14)
	}
	return o.Buckets
}

// register registers c with reg, or returns the collector registered before
// under the same description.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, err
}

var errNilRegisterer = errors.New("prommetrics: a prometheus.Registerer is required")
