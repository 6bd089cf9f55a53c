// Package httpapi is the bank's HTTP JSON API.
//
// Commands are POSTs. A command that succeeds answers with the stream's new
// version and a consistency token, in the body and in the
// X-Consistency-Token header:
//
//	POST /accounts                      {"id", "owner", "overdraft_limit"}  201
//	POST /accounts/{id}/deposits        {"amount"}                          200
//	POST /accounts/{id}/withdrawals     {"amount"}                          200
//	POST /transfers                     {"id", "from", "to", "amount"}      202
//
// Deposits and withdrawals honour an Idempotency-Key header. Amounts are
// integers in cents. A transfer is carried out after the response by the
// process manager; its status is read with GET /transfers/{id}.
//
// Queries are GETs served from the Redis read models only:
//
//	GET /accounts/{id}
//	GET /accounts?owner=…&limit=…&cursor=…
//	GET /accounts/{id}/ledger?limit=…&cursor=…&order=asc|desc
//	GET /transfers/{id}
//
// A query given a token (?token=… or the X-Consistency-Token header) first
// waits, for a bounded time, until its read model includes that write.
//
// Errors are JSON {"error", "code"}: 400 for malformed input, 404 for an
// unknown account or transfer, 409 for a conflict (an ID already used),
// 422 for a refused withdrawal, and 503 with Retry-After when a read model
// is not ready or did not reach the token in time. Bad input never causes a
// 500.
package httpapi
