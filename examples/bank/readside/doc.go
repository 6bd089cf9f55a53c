// Package readside is the bank's read side: the projections that keep its
// read models in Redis, the queries that read them, and the transfer process
// manager.
//
// Three projections build documents from the accounts' and transfers'
// events, each in its own namespace and each with a secondary index:
//
//   - accounts: one document per account (owner, balance, overdraft limit),
//     indexed by owner;
//   - ledger: one document per deposit or withdrawal, indexed by account, so
//     that an account's statement is read in pages, oldest or newest first;
//   - transfers: one document per transfer with its status, indexed by both
//     of its accounts.
//
// The transfer process manager is not a projection: it lives in package
// process, keeps its position in PostgreSQL and writes nothing to Redis.
//
// Queries read Redis only. Given a consistency token (the position a command
// returned), they first wait, for a bounded time, until the projection they
// read has applied it.
package readside
