package projection

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/readmodel"
)

// Checkpoints returns the checkpoint of every partition of the active
// version of projection (for tenant, "" for none), indexed by partition: a
// partition's checkpoint is the position up to which it has applied the
// events of the streams [PartitionOf] assigns to it. A partition that has
// not committed a batch yet reports the zero Position. It fails with
// ErrNotReady when no version is active. Tests and operators use it to see
// how far a read model has got; queries use [WaitFor] instead.
func Checkpoints(ctx context.Context, r readmodel.Reader, projection, tenant string) ([]eventstore.Position, error) {
	p, ok, err := readPointer(ctx, r, projection, tenant)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %q has no active version", ErrNotReady, projection)
	}
	ns := readmodel.Namespace{Projection: projection, Version: p.Version, Tenant: tenant}
	cps := make([]eventstore.Position, max(p.Partitions, 1))
	for i := range cps {
		doc, err := r.Get(ctx, ns, checkpointID(i))
		if errors.Is(err, readmodel.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var cp checkpoint
		if err := jsonUnmarshal(doc.Data, &cp); err != nil {
			return nil, fmt.Errorf("projection: checkpoint %d of %s: %w", i, ns, err)
		}
		cps[i] = cp.Position
	}
	return cps, nil
}
