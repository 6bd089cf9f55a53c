// Package servicetest gives the example's tests the real services they run
// against, each isolated for one test: a PostgreSQL schema, a Redis key
// prefix and a NATS JetStream stream name, removed when the test ends.
//
// A test whose service is unreachable is skipped, unless CI=true or
// EVENTFOLD_REQUIRE_SERVICES=1 is set, in which case it fails: CI must never
// pass by skipping. The services are found through EVENTFOLD_TEST_POSTGRES_URL,
// EVENTFOLD_TEST_REDIS_URL and EVENTFOLD_TEST_NATS_URL, with the local
// defaults of scripts/services.sh.
package servicetest
