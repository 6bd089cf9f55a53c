package prommetrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HeldBackSource is what HeldBackCollector reads: adapters/pgstore.Store
// implements it (use its AllTenants view to cover every tenant).
type HeldBackSource interface {
	// HeldBackEvents returns the number of committed events that readers
	// of the log cannot see yet because an older transaction is still
	// open, and since when the log has been held back: when the
	// longest-running such transaction began, or, when that is hidden from
	// the store's role, when the oldest held-back event was recorded (zero
	// when nothing is held back).
	HeldBackEvents(ctx context.Context) (events int64, oldestSince time.Time, err error)
}

// HeldBackCollector is a prometheus.Collector that asks its source at
// every scrape how much of the log an open transaction hides. Register it
// with a Registerer.
type HeldBackCollector struct {
	events, seconds, up *prometheus.Desc
	source              HeldBackSource
	timeout             time.Duration
	now                 func() time.Time
}

var _ prometheus.Collector = (*HeldBackCollector)(nil)

// NewHeldBackCollector returns a collector of
//
//	eventfold_log_held_back_events   committed events readers cannot see yet
//	eventfold_log_held_back_seconds  how long the log has been held back (the oldest holder's age, when visible)
//	eventfold_log_held_back_up       1 when the last scrape could ask the store
//
// Projections and relays stop while eventfold_log_held_back_events is
// above 0 (their lag grows, with no error to say why): alert when it stays there
// (for example for a minute), and run `eventfold horizon` to see which
// transaction to end. Each scrape runs one short query, bounded by a
// 5-second timeout.
func NewHeldBackCollector(source HeldBackSource) *HeldBackCollector {
	return &HeldBackCollector{
		events:  prometheus.NewDesc("eventfold_log_held_back_events", "Committed events that readers of the log cannot see yet, behind an open transaction.", nil, nil),
		seconds: prometheus.NewDesc("eventfold_log_held_back_seconds", "How long the log has been held back: the age of the oldest transaction holding it, or, when that is hidden from the store's role, of the oldest held-back event; 0 when nothing is held back.", nil, nil),
		up:      prometheus.NewDesc("eventfold_log_held_back_up", "1 when the last scrape could read the held-back events from the store.", nil, nil),
		source:  source,
		timeout: 5 * time.Second,
		now:     time.Now,
	}
}

// Describe implements prometheus.Collector.
func (c *HeldBackCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.seconds
	ch <- c.up
}

// Collect implements prometheus.Collector. When the store cannot be asked,
// it reports only eventfold_log_held_back_up 0, rather than a count it
// does not know.
func (c *HeldBackCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	events, since, err := c.source.HeldBackEvents(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	seconds := 0.0
	if !since.IsZero() {
		seconds = max(c.now().Sub(since).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(events))
	ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, seconds)
}
