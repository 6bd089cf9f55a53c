// Package process holds the bank's process manager: the transfer process,
// which carries out a requested transfer by sending commands to the
// accounts, built on command.Process.
//
// It keeps its position in PostgreSQL and runs under a lease, and every
// command it sends carries a key derived from the event it reacts to, so a
// crash, a Redis wipe or a second replica never makes it decide a step
// again: each step handled again returns its first outcome.
package process
