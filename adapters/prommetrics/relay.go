package prommetrics

import (
	"github.com/eventfold/eventfold/eventstore"
	"github.com/prometheus/client_golang/prometheus"
)

// Relay is what RelayCollector reads: adapters/watermillbus.Relay
// implements it.
type Relay interface {
	// Active reports whether the relay holds its lease and forwards the
	// log, and the position it has published up to.
	Active() (bool, eventstore.Position)
}

// RelayCollector is a prometheus.Collector that reads a relay's state at
// every scrape. Register it with a Registerer.
type RelayCollector struct {
	active, position *prometheus.Desc
	relay            Relay
}

var _ prometheus.Collector = (*RelayCollector)(nil)

// NewRelayCollector returns a collector of relay's state, labelled
// relay=name (the RelayConfig.Name):
//
//	eventfold_relay_active             1 while the relay holds the lease and forwards
//	eventfold_relay_position_sequence  sequence of the last position published
//
// Every replica of a relay reports; exactly one should be active, so the
// sum of eventfold_relay_active for a name is 1 in a healthy deployment.
// Collectors of several relays, with different names, can share one
// Registerer.
func NewRelayCollector(name string, relay Relay) *RelayCollector {
	labels := prometheus.Labels{"relay": name}
	return &RelayCollector{
		active:   prometheus.NewDesc("eventfold_relay_active", "1 while this relay holds its lease and forwards the log.", nil, labels),
		position: prometheus.NewDesc("eventfold_relay_position_sequence", "Sequence of the last position this relay published.", nil, labels),
		relay:    relay,
	}
}

// Describe implements prometheus.Collector.
func (c *RelayCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.active
	ch <- c.position
}

// Collect implements prometheus.Collector.
func (c *RelayCollector) Collect(ch chan<- prometheus.Metric) {
	active, pos := c.relay.Active()
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, boolFloat(active))
	ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(pos.Sequence))
}
