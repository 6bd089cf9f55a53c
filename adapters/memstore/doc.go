// Package memstore is the in-memory reference implementation of eventfold's
// ports: an [eventstore.Store] (see [New]) and, as the framework grows, the
// read-model and snapshot stores. It uses only the standard library, is safe
// for concurrent use, and passes every conformance suite, so it defines by
// example what the ports mean.
//
// Use it in unit tests, examples and prototypes. It is not for production:
// everything lives in one process's memory and is lost when the process
// ends, memory grows with every event ever appended, and one mutex
// serialises all writers.
//
// [ReadModels] (see [NewReadModels]) is the in-memory readmodel.Store: the
// reference for the version guard, index ordering, pagination and namespace
// isolation that adapters/redisstore implements in Redis. Indexes are sorted
// slices of readmodel.EntryKey strings, tombstones are kept until Drop, and
// every Apply runs under the one lock, so batches are atomic.
package memstore
