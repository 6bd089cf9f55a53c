// Package prommetrics exports eventfold's metrics to Prometheus, with
// github.com/prometheus/client_golang.
//
// Each part of an application gets its own piece, registered with a
// prometheus.Registerer the application owns (the package never touches
// prometheus.DefaultRegisterer on its own):
//
//   - [Store] decorates an eventstore.Store: appends by outcome, append and
//     read latency, events appended.
//   - [Commands] is a command.Middleware: commands by Go type and outcome,
//     with latency.
//   - [ReadModels] decorates a readmodel.Store: operations by kind and
//     outcome, with latency.
//   - [ProjectionHooks] is set as projection.Config.Hooks: batch sizes,
//     batch latency and retries; [NewProjectionCollector] reads the
//     Runners' Status at every scrape: position, lag in events and
//     seconds, rate, state, faults.
//   - [NewRelayCollector] reports whether a relay holds its lease and how
//     far it has published.
//   - [NewHeldBackCollector] asks the event store (pgstore's Store) at
//     every scrape how many committed events an open transaction hides
//     from projections, and for how long.
//
// Every metric name starts with "eventfold_"; docs/grafana-dashboard.json is
// a dashboard built on them, and docs/operations.md explains how to read it.
//
// Registering the same metrics twice with one Registerer is allowed: the
// second call reuses the collectors of the first, so two stores decorated
// with one Registerer add to the same counters.
//
// A typical wiring:
//
//	reg := prometheus.NewRegistry()
//	store, err := prommetrics.Store(pgStore, reg, nil)
//	hooks, err := prommetrics.ProjectionHooks(reg, nil)
//	runner, err := projection.NewRunner(projection.Config{..., Source: projection.LogSource(store, nil), Hooks: hooks})
//	err = reg.Register(prommetrics.NewProjectionCollector(runner))
//	err = reg.Register(prommetrics.NewHeldBackCollector(pgStore.AllTenants()))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
package prommetrics
