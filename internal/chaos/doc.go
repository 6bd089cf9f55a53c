// Package chaos holds fault-injection tests that stop and restart the real
// services eventfold runs on (PostgreSQL, Redis, NATS JetStream, RabbitMQ)
// or cut the network between a projection runner and Redis, while writers,
// tailers, the relay and projection runners keep working. Each test
// restores what it stopped and ends by checking that the read model equals
// a fold of the event store.
//
// Restarting shared servers breaks every other test that uses them, so the
// tests run only when EVENTFOLD_CHAOS=1 is set, one package at a time:
//
//	make chaos
//
// which `make test` runs as its last step. With EVENTFOLD_CHAOS=1 a missing
// service fails the tests instead of skipping them. TestRabbitMQRestart and
// TestRabbitMQQuorumLeaderKill are built only without the race detector, which reports races inside
// watermill-amqp's own reconnection, so `make chaos` runs it in a second go
// test without -race. The scenarios and what each proves are listed in
// docs/reliability-faults.md. The package has no code of its own.
package chaos
