// Package projectionops is the operators' side of package projection: what
// tools and probes use to see and steer projections that run in an
// application, through the read-model store they share with it.
//
// # Inspection
//
// [ListProjections] lists the projections whose Runners recorded
// themselves in the store's catalog, so a tool finds them without being
// told their names. [Inspect] reads one projection's active version and
// the checkpoint of each partition of a version; [Checkpoints] is the
// short form for the active version. The eventfold command's projections
// status and its console read projections this way.
//
// # Control
//
// A partition whose handler keeps failing on an event stops, faulted, and
// publishes the fault in the store. [Faults] lists the published faults,
// and [Control] asks the faulted Runner, in whatever process it runs, to
// retry the event or skip it, and waits for its answer. A request names
// the event it means, so one that arrives after the fault was resolved is
// refused ([ErrStaleRequest]) rather than skipping another event. In the
// Runner's own process, projection.Runner.Retry and Skip do the same
// without the store.
//
// # Health
//
// A [HealthCheck] judges Runners or Groups by their projection.Status for
// a liveness or readiness probe: unhealthy when faulted, stopped, unable
// to reach its store for a while ([HealthOptions.UnavailableAfter], 30
// seconds by default), or behind the head with nothing applied for a while
// ([HealthOptions.StallAfter], a minute by default), and optionally when
// lagging more than [HealthOptions.MaxLag]. A projection that is behind but
// advancing, as after a deploy, stays healthy. It is an http.Handler
// answering 200 or 503 with JSON.
//
// The documents behind all of this (the active-version pointer,
// checkpoints, the catalog, faults, requests and outcomes) belong to the
// projection engine; this package reads and writes them only through the
// engine's own encoding, so no tool spells their keys.
package projectionops
