// Package commandtest helps test code built on package command.
//
// [For] runs given/when/then scenarios against a command.Decider without
// any store: given past events, when a command, then these events, this
// error or this state. Failures print go-cmp diffs.
//
//	commandtest.For(t, account.Decider).
//		Given(account.Opened{Owner: "ada"}, account.Deposited{Amount: 10}).
//		When(account.Withdraw{Amount: 50}).
//		ThenError(account.ErrInsufficientFunds)
//
// [ForProcess] runs given/then scenarios against a process manager
// (command.Process): given events, then the commands it sends, with the
// outcome of each command chosen by the test ([ProcessScenario.Refusing]).
// It also handles the events a second time from the start, as after a
// crash, and fails unless the process sends the same commands under the
// same idempotency keys: a process that would decide again on a replay is
// caught in its unit test.
//
//	commandtest.ForProcess(t, reg, bank.NewTransferProcess).
//		Given("transfer-1", bank.TransferRequested{From: "a", To: "b", Amount: 5}).
//		Refusing(func(cmd any) error { return nil }).
//		ThenSent(bank.Withdraw{AccountID: "a", Amount: 5}, bank.Deposit{AccountID: "b", Amount: 5})
//
// [RunSnapshotStore] and [RunKeyStore] are the conformance suites every
// command.SnapshotStore and command.KeyStore implementation runs from its
// own tests, as parallel subtests. Besides the contract of the port, with
// many goroutines saving one stream or asking for the first key of one
// subject at once, they check the capabilities the Config's [Features]
// declares: a store declaring Tenants has its tenant views
// (command.SnapshotsForTenant, command.KeysForTenant) kept apart, also
// under contention across tenants.
//
//	commandtest.RunKeyStore(t, commandtest.KeyConfig{
//		New:      func(t testing.TB) command.KeyStore { return memstore.NewKeys(nil) },
//		Features: commandtest.Features{Tenants: true},
//	})
//
// A declared feature the store lacks fails the suite; a capability the
// store has (found with command.As) but the Config does not declare fails
// it too, with a message naming the field (Features.Tenants is not
// declared), so an adapter cannot skip a capability's checks by omission;
// each area skipped because its feature is not declared is logged.
package commandtest
