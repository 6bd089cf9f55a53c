// Package lifecyclebench is scenario 12 of the benchmark: what a stream
// lifecycle operation (soft delete, truncation, archive) costs next to the
// one-event append it replaces.
package lifecyclebench
