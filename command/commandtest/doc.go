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
// [RunSnapshotStore] is the conformance suite every command.SnapshotStore
// implementation runs from its own tests.
package commandtest
