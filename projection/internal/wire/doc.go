// Package wire is where the projection engine's own documents live in the
// read-model store and how they are encoded: the active-version pointer,
// the partitions' checkpoints and caught-up marks, the catalog and the
// control protocol's faults, requests and outcomes. It is the one package
// that spells their namespaces and IDs. Package projection writes them as
// it runs; package projectionops reads them for operators' tools and
// writes the requests of the control protocol. Nothing else names them: a
// test in this package fails on a string literal that does.
package wire
