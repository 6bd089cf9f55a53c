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
// [RunSnapshotStore] is the conformance suite every command.SnapshotStore
// implementation runs from its own tests.
package commandtest
