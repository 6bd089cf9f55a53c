// Package readmodeltest provides the conformance suite for readmodel.Store
// implementations. An adapter calls Run from its own tests; an adapter that
// passes needs no further tests of the core read-model semantics: round
// trips, the version guard under reordering and duplication, index queries
// and their pagination, namespace isolation, hostile keys, state and
// checkpoints (stored with their batch, and not by a refused one), dropping
// and rebuilding, concurrent writers, and readers that never see part of a
// batch.
//
// Each subtest gets its own store from Config.New and runs in parallel with
// the others, so New must return a store isolated from every other call
// (for Redis, a fresh key prefix).
//
// A read-model store has no optional capability today: every Store has the
// whole Reader and Writer, so Config has no Features as the other ports'
// suites do. The suite checks, through readmodel.Writable, that a
// readmodel.ReadOnly reader hides the store's Writer.
package readmodeltest
