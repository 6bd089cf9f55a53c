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
// Config.Features declares the store's optional capabilities (see
// readmodel.As), as the other ports' suites do. A declared feature's tests
// run and must pass, and a declared feature the store lacks fails; a
// capability the store has but Features does not declare fails the suite
// with a message naming the field (Features.Partitioned is not declared);
// each area skipped because its feature is not declared is logged. A
// store spreading namespaces over partitions (readmodel.Partitioned)
// declares Partitioned:
//
//	readmodeltest.Run(t, readmodeltest.Config{
//		New: func(t testing.TB) readmodel.Store {
//			p, err := readmodel.NewPartitioned(memstore.NewReadModels(nil), 4)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return p
//		},
//		Features: readmodeltest.Features{Partitioned: true},
//	})
//
// The suite also checks, through readmodel.Writable, that a
// readmodel.ReadOnly reader hides the store's Writer.
package readmodeltest
