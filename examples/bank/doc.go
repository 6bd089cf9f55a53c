// Package bank is eventfold's example application: a small bank with
// accounts, deposits, withdrawals under an overdraft limit, and transfers
// between accounts carried out by a process manager.
//
// The code is split the way an application built on eventfold usually is:
//
//   - domain: the deciders (accounts and transfers) and their events; pure
//     functions, tested with command/commandtest.
//   - readside: the projections that keep Redis read models (account
//     details, accounts by owner, a paginated ledger, transfers) and the
//     transfer process manager, which reacts to events by sending commands.
//   - httpapi: the HTTP JSON API. Commands are POSTs that answer with the
//     stream's new version and a consistency token; queries are GETs served
//     from Redis only, which wait for a token when given one.
//   - app: wiring. One process runs everything by default; with NATS
//     JetStream the API, the relay and the projector run as separate
//     processes.
//   - cmd/bank: the program, and its -demo session.
package bank
