// Package app wires the bank together: PostgreSQL for the events, Redis for
// the read models, and, when the parts run as separate processes, NATS
// JetStream in between.
//
// Config.Mode selects what a process runs:
//
//   - "all" (the default): the HTTP API, the projections and the transfer
//     process manager, in one process. Projections tail the event store
//     directly (projection.LogSource); no broker is needed.
//   - "api": the HTTP API only. It appends to PostgreSQL and reads Redis.
//   - "relay": forwards the event log to a JetStream stream
//     (watermillbus.Relay). Several relays may run; a PostgreSQL lease keeps
//     one active.
//   - "projector": the projections and the process manager, reading the log
//     from JetStream (watermillbus.NewSource), one durable consumer per
//     projection.
//
// A distributed deployment runs one relay (or more, for failover), one
// projector and any number of APIs, all with the same Schema, RedisPrefix and
// Topic.
package app
