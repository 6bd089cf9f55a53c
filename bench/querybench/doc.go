// Package querybench holds benchmark scenario 8, query latency from the
// read model: eventfold's typed View.Get of a read-model document in Redis
// (one HMGET and a JSON decode) against a raw Redis GET of the same bytes
// under a plain key, and a raw HMGET of the very hash redisstore keeps the
// document in.
package querybench
