// Package harness runs eventfold's benchmark scenarios and reports them.
//
// A [Scenario] sets up what it needs in its own PostgreSQL schema (through
// [Env]) and returns a [Plan]: a list of [Cell]s, each one shape of work
// (for example "16 writers") measured by several [Contender]s — eventfold
// and the baselines it is held against. [Run] measures every contender of
// every cell once per repetition, in rep-major order (the whole matrix once,
// then again), so slow drift of the machine hits eventfold and its baselines
// alike. Each measurement is a fixed-duration window after a warm-up, driven
// by [Drive].
//
// The [Report] holds one [Row] per (cell, baseline): eventfold's figure, the
// baseline's figure and their ratio, each as the median of the repetitions
// with their min and max, plus p50, p99 and p99.9 latencies. It prints as a
// Markdown table and marshals to JSON.
//
// Scenarios that depend on parts of eventfold that do not exist yet are
// listed with [Pending], so the report says what is missing instead of
// leaving it out.
package harness
