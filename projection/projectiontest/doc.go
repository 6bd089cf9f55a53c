// Package projectiontest tests projections: given/then scenarios for one
// projection, and, after any scenario, checks that what was written is
// consistent: the event store's log against the commands that were
// acknowledged, and a read model against a fold of that log. It also holds
// the conformance suite for projection sources ([RunSource]).
//
// [For] starts a given/then [Scenario]: given events (Go values encoded
// with the projection's registry, or stored events as an older version
// wrote them), then the documents the read model holds ([ThenDocuments]).
// It runs the projection in a real Runner over the read-model store it is
// given, so decoding, upcasting and batching are those of production:
//
//	s := projectiontest.For(t, p, memstore.NewReadModels(nil)).
//		Given("account-1", Opened{Owner: "ada"}, Deposited{Amount: 120})
//	projectiontest.ThenDocuments(s, accounts, map[string]Account{
//		"account-1": {Owner: "ada", Balance: 120},
//	})
//
// [CheckLog] takes the appends a test saw succeed and verifies that each
// one's events are stored exactly once, in stream order, at the versions
// and position the store reported, and that the global log has no gaps or
// duplicates: positions strictly increase, event IDs are unique and every
// stream's versions run 1, 2, 3 … in log order.
//
// [CheckReadModel] reads the checkpoints of a projection's active version
// ([projectionops.Checkpoints]), folds the log up to them with a function the
// test supplies (the specification of the projection, written as simply as
// possible), and compares the documents, and the entries of every index of
// the model, with what the read model holds. It also verifies that no
// checkpoint is ahead of the head of the log.
//
//	var acked []projectiontest.Ack
//	res, err := store.Append(ctx, "account-1", eventstore.Any, events)
//	if err == nil {
//		acked = append(acked, projectiontest.AckOf("account-1", res, events))
//	}
//	…
//	projectiontest.CheckLog(t, store, acked)
//	projectiontest.CheckReadModel(t, store, readModels, "balances", "", balances,
//		func(docs map[string]Balance, rec eventstore.Record) error { … })
//
// Both work on any eventstore.Store and readmodel.Reader: memstore in unit
// tests, pgstore and redisstore in end-to-end tests. They poll the log for
// up to [Visibility] for acknowledged events to appear, as stores may make
// events visible to ReadAll with a delay. Run CheckReadModel once the
// projection is idle (for example after projection.WaitFor the last
// position): it retries while the checkpoints move, but a runner that never
// stops writing makes it fail.
//
// # Sources
//
// [RunSource] checks a [projection.Source] and its feeds, as parallel
// subtests. [SourceConfig.New] returns a fresh log and a Source over it;
// a source that reads a broker also starts, with t.Cleanup, whatever
// carries the log there (a relay):
//
//	projectiontest.RunSource(t, projectiontest.SourceConfig{
//		New: func(t testing.TB) (eventstore.Store, projection.Source) {
//			store := memstore.New(nil)
//			return store, projection.LogSource(store, nil)
//		},
//		Features: projectiontest.SourceFeatures{Head: true},
//	})
//
// The suite reads as a Runner does: it skips records at or before the last
// position seen (only when [SourceConfig.Redelivers] is set; otherwise such
// a record fails) and commits after each batch. It checks that
//
//   - a feed delivers every appended event exactly once, in log order,
//     across Next calls with small max values, while writers append;
//   - Open starts after the position it is given: zero, an event in the
//     middle of the log, or a position between two events;
//   - an idle Next returns no records within two seconds, and a later one
//     returns an event appended meanwhile;
//   - after Commit and Close, a feed opened after the committed position
//     delivers everything after it, including what was handed out but not
//     committed and what was appended while no feed was open;
//   - Next returns promptly, with ctx's error or no records, when its
//     context is cancelled, before or during the call;
//   - a Source declaring [SourceFeatures].Head reports the last appended
//     position through its [eventstore.HeadReader].
//
// [SourceConfig.Features] declares the source's optional capabilities, as
// the other ports' suites do: a declared feature must pass its tests, a
// capability the source has (found with eventstore.As) but the Config
// does not declare fails the suite with a message naming the field, and
// each area skipped because its feature is not declared is logged.
//
// Feeds are opened with the test's context, which lasts as long as the
// feed. Every Open and Next runs under a bound and fails the test with a
// message when it does not return. [SourceConfig.LiveOnly] declares a
// source whose broker keeps nothing for an absent subscriber (a plain
// Watermill gochannel): it skips the subtests that open a feed over events
// appended before.
package projectiontest
