package projection

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

// A spread read model (Config.Spread) keeps each partition's documents,
// epoch and checkpoint in a namespace of its own,
// readmodel.Namespace.WithPartition, which a Redis Cluster places in a hash
// slot of its own. Every batch of a partition is still one atomic Apply
// with its checkpoint; what changes is that nothing spans partitions, so
// the version-wide steps (the caught-up marks, freezing, dropping, reading
// checkpoints) visit every partition's namespace.
//
// The namespace checkpoint of a partition is its fence: the epoch followed
// by the position of the last commit. Each commit expects the fence the
// previous one stored, so a commit the store acknowledged and then lost (a
// replica promoted before the write reached it) is noticed at the next
// commit, or by the idle check, and the partition resumes from the
// checkpoint the store kept.

// layout says where a version of a projection keeps its documents.
type layout struct {
	ns         readmodel.Namespace // the version's namespace, without a partition
	partitions int
	spread     bool
}

// partition returns the namespace that holds partition k's checkpoint.
func (l layout) partition(k int) readmodel.Namespace {
	if l.spread {
		return l.ns.WithPartition(k, max(l.partitions, 1))
	}
	return l.ns
}

// namespaces returns every namespace of the version.
func (l layout) namespaces() []readmodel.Namespace {
	if !l.spread {
		return []readmodel.Namespace{l.ns}
	}
	out := make([]readmodel.Namespace, max(l.partitions, 1))
	for k := range out {
		out[k] = l.ns.WithPartition(k, max(l.partitions, 1))
	}
	return out
}

// readEach reads document id(k) of every partition k, from the partition's
// namespace; a missing one is nil.
func (l layout) readEach(ctx context.Context, r readmodel.Reader, id func(k int) string) ([]*readmodel.Document, error) {
	return wire.ReadEach(ctx, r, l.ns, l.partitions, l.spread, id)
}

// dropAll drops every namespace of l, going on past failures.
func (l layout) dropAll(ctx context.Context, w readmodel.Writer) error {
	var errs []error
	for _, ns := range l.namespaces() {
		if err := w.Drop(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// pointerLayout returns the layout of the version p points at.
func pointerLayout(projection, tenant string, p pointer) layout {
	return layout{ns: readmodel.Namespace{Projection: projection, Version: p.Version, Tenant: tenant},
		partitions: max(p.Partitions, 1), spread: p.Spread}
}

// layout returns the layout of the Runner's version.
func (r *Runner) layout() layout {
	return layout{ns: r.cfg.Projection.Namespace(r.cfg.Tenant), partitions: r.cfg.Partitions, spread: r.cfg.Spread}
}

// ownNamespace returns the namespace this Runner writes.
func (r *Runner) ownNamespace() readmodel.Namespace {
	return r.layout().partition(r.cfg.Partition)
}

// expectedFence returns the namespace checkpoint this Runner's next write
// expects: the epoch, or in a spread read model the fence its last commit
// stored.
func (r *Runner) expectedFence(epoch string) string {
	if r.cfg.Spread && r.fence != "" {
		return r.fence
	}
	return epoch
}

// fenceAt returns the namespace checkpoint a commit up to pos stores.
func (r *Runner) fenceAt(epoch string, pos eventstore.Position) string {
	if !r.cfg.Spread {
		return epoch
	}
	base, _, _ := strings.Cut(r.expectedFence(epoch), "@")
	return base + "@" + pos.String()
}

// Serving returns the version of projection (for tenant, "" for none) that
// readers are served from, as a namespace and a Reader over r to read it
// with: r itself, or for a read model spread over partitions
// (Config.Spread) a readmodel.PartitionedReader that routes each read to
// its partitions. Pass both to Model.View. It fails with ErrNotReady when no
// version is ready.
func Serving(ctx context.Context, r readmodel.Reader, projection, tenant string) (readmodel.Reader, readmodel.Namespace, error) {
	p, ok, err := readPointer(ctx, r, projection, tenant)
	if err != nil {
		return nil, readmodel.Namespace{}, err
	}
	if !ok {
		return nil, readmodel.Namespace{}, fmt.Errorf("%w: %q has no active version", ErrNotReady, projection)
	}
	ns := readmodel.Namespace{Projection: projection, Version: p.Version, Tenant: tenant}
	if !p.Spread {
		return readmodel.ReadOnly(r), ns, nil
	}
	return readmodel.PartitionedReader(r, p.Partitions), ns, nil
}
