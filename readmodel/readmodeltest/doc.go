// Package readmodeltest provides the conformance suite for readmodel.Store
// implementations. An adapter calls Run from its own tests; an adapter that
// passes needs no further tests of the core read-model semantics: round
// trips, the version guard under reordering and duplication, index queries
// and their pagination, namespace isolation, hostile keys, state and
// checkpoints, dropping, and concurrent writers.
//
// Each subtest gets its own store from Config.New and runs in parallel with
// the others, so New must return a store isolated from every other call
// (for Redis, a fresh key prefix).
package readmodeltest
