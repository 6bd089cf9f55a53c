// Package eventstoretest is the conformance suite for [eventstore.Store]
// implementations. An adapter calls [Run] from its own tests with a factory
// that returns a fresh, empty store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		eventstoretest.Run(t, eventstoretest.Config{
//			New: func(t testing.TB) eventstore.Store { return newIsolatedStore(t) },
//		})
//	}
//
// The suite checks the whole contract of the port: round trips, every
// expected-version rule, one winner among concurrent appenders to a stream,
// parallel appenders to many streams, a complete and strictly ordered global
// log that tailers read gap-free while appends are in flight, ReadAll from
// any position, idempotent re-appends (event IDs in either case), that the
// store neither keeps the caller's slices nor hands out its own, command
// keys and the outcomes they keep (eventstore.KeyedAppender and
// eventstore.OutcomeStore, when implemented), filtered reads of the log
// whose Through position never passes a late commit
// (eventstore.FilteredReader, when implemented; past an append held open
// when Config.HoldAppend is set), tenant isolation (when
// Config.ForTenant is set), and rejection of invalid input with nothing
// stored. An adapter that passes needs no other tests of these semantics;
// its own tests cover what is specific to its backend.
//
// Optional capabilities the store lacks are logged, not silently skipped,
// and a store that implements eventstore.TenantScoper fails the suite
// unless Config.ForTenant is set.
//
// Stores may make appended events visible to ReadAll with a delay (pgstore
// waits for older transactions anywhere in the cluster), so the suite polls
// the global log for up to Config.Visibility before it fails.
package eventstoretest
