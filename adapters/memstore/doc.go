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
package memstore
