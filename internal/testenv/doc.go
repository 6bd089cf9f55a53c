// Package testenv connects tests to the real PostgreSQL and Redis servers and
// isolates each test in its own PostgreSQL schema or Redis key prefix, so
// tests run in parallel against one server.
//
// Connection strings come from EVENTFOLD_TEST_POSTGRES_URL and
// EVENTFOLD_TEST_REDIS_URL, with defaults that match scripts/services.sh.
// A test that cannot reach a server is skipped, unless CI=true or
// EVENTFOLD_REQUIRE_SERVICES=1 is set (make test sets it): then it fails,
// so a missing service can never pass a run silently.
//
// For clustered servers, which the shared ones are not, RedisCluster,
// NATSCluster, RabbitMQCluster and PGStandby (a PostgreSQL primary and a
// hot standby) start the test's own processes on free ports of 127.0.0.1,
// and PGCluster a PostgreSQL cluster of the test's own (one per shard, for
// instance); they die with the test binary.
package testenv
