// Package e2e holds end-to-end tests that cross every adapter: PostgreSQL
// event store, projection runners and Redis read models, in one process and
// with projector processes killed at random points. It has no code of its
// own.
package e2e
