// Package eventstoretest is the conformance suite for [eventstore.Store]
// implementations. An adapter calls [Run] from its own tests with a factory
// that returns a fresh, empty store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		eventstoretest.Run(t, eventstoretest.Config{
//			New:      func(t testing.TB) eventstore.Store { return newIsolatedStore(t) },
//			Features: eventstoretest.Features{Keyed: true, Head: true},
//		})
//	}
//
// The suite checks the whole contract of the port: round trips, every
// expected-version rule, one winner among concurrent appenders to a stream,
// parallel appenders to many streams, a complete and strictly ordered global
// log that tailers read gap-free while appends are in flight, ReadAll from
// any position, idempotent re-appends (event IDs in either case), that the
// store neither keeps the caller's slices nor hands out its own, and
// rejection of invalid input with nothing stored. An adapter that passes
// needs no other tests of these semantics; its own tests cover what is
// specific to its backend.
//
// # Features
//
// [Config.Features] declares the store's optional capabilities
// (see eventstore.As): command keys (Keyed), the outcomes they keep
// (Outcomes), the head of the log (Head), change notification (Notify),
// tenant views (Tenants), whose isolation the suite checks through every
// call of the port, and filtered reads of the log (Filtered), whose
// Through position must never pass an event that may still commit
// (checked past an append held open when [Config.HoldAppend] is set). A
// declared feature's tests run and must pass; a declared feature the store
// lacks fails. A capability the store has but Features
// does not declare fails the suite with a message naming the field, so no
// area is skipped by omission. An undeclared feature the store lacks is
// logged as a skipped area.
//
// [Config.HoldAppend] lets a store whose appends run in transactions hold
// one open while later appends commit, so the suite checks the gap problem
// portably: ReadAll (and ReadAllFiltered) never returns or passes a
// position while an event ordered before it may still commit.
//
// Stores may make appended events visible to ReadAll with a delay (pgstore
// waits for older transactions anywhere in the cluster), so the suite polls
// the global log for up to Config.Visibility before it fails.
package eventstoretest
