// Package domain holds the bank's deciders: accounts, which take deposits
// and withdrawals within an overdraft limit, and transfers, whose steps a
// process manager (package readside) drives through the accounts.
//
// Everything here is pure: no I/O, no clock, no randomness. Commands check
// their own shape (Validate, run by command.Validate before anything is
// loaded); Decide enforces the rules that depend on the state and returns the
// sentinel errors below. Amounts are integers in cents.
package domain
