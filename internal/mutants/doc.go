// Package mutants holds deliberately broken stores and projection
// sources: each mutant breaks one behaviour of adapters/memstore (or of
// projection.LogSource over it) that the conformance suites
// (eventstore/eventstoretest, readmodel/readmodeltest, commandtest's
// RunSnapshotStore and RunKeyStore, projectiontest's RunSource) promise
// to check. Most are wrappers
// around a memstore value that change one method; where a wrapper cannot
// express the bug, a mutant is a small copy of the memstore code with the
// bug switched on.
//
// The package's test runs each suite against each mutant in a child
// process and requires the suite to fail, and memstore and every unbroken
// wrapper or copy to pass: a mutant that passes is a hole in a suite that
// an adapter's real bug would slip through. Some mutants are correct but
// have a capability (tenant views, a head, partitions) that the suite's
// Config does not declare in its Features: the suite must fail with a
// message naming the field.
package mutants
