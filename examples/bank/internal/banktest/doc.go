// Package banktest starts the bank for tests, against the real services with
// a PostgreSQL schema, Redis prefix and JetStream stream of the test's own,
// and gives the tests a small JSON client for its API.
package banktest
