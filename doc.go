// Package eventfold is a CQRS and event-sourcing framework for Go: commands
// are decided against an aggregate's state and append events to PostgreSQL;
// Watermill carries the events to projection workers; projections keep read
// models in Redis; queries read Redis only.
//
// This root package holds no code. The framework is a set of ports, each a
// package of interfaces and shared logic with a conformance suite:
//
//   - eventstore: events, streams, expected versions, the global log
//     (suite: eventstore/eventstoretest)
//   - command: deciders, command handling, snapshots (command/commandtest)
//   - readmodel: versioned documents and indexes for the query side
//     (readmodel/readmodeltest)
//   - projection: workers that turn the global log into read models
//
// and adapters grouped by the dependency they bring, under adapters/:
// pgstore (PostgreSQL, pgx/v5), redisstore (Redis, go-redis/v9),
// watermillbus (Watermill) and memstore (in memory, the reference
// implementation that runs every suite).
//
// Start with the README, docs/design.md and the Example functions of each
// port.
package eventfold
