package projection

import (
	"context"
	"fmt"
	"time"

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
	in, err := Inspect(ctx, r, projection, tenant, "", 0)
	if err != nil {
		return nil, err
	}
	if in.Active == "" {
		return nil, fmt.Errorf("%w: %q has no active version", ErrNotReady, projection)
	}
	cps := make([]eventstore.Position, len(in.Partitions))
	for i, p := range in.Partitions {
		cps[i] = p.Position
	}
	return cps, nil
}

// Inspection is what the read-model store holds about one projection: the
// version serving readers and, for one version, each partition's
// checkpoint. Operators' tools (eventfold projections status, the console)
// read it instead of the documents behind it, which are the Runner's own.
type Inspection struct {
	// Active is the version readers are served from; "" when none is ready.
	Active string
	// SwitchedAt is when Active began serving.
	SwitchedAt time.Time
	// Version is the version inspected: the one asked for, or Active.
	Version string
	// Partitions holds the checkpoint of each of Version's partitions.
	Partitions []PartitionCheckpoint
}

// PartitionCheckpoint is one partition's checkpoint.
type PartitionCheckpoint struct {
	// Position is the position up to which the partition has applied the
	// log; zero until it commits its first batch.
	Position eventstore.Position
	// Committed reports whether the partition has committed a batch.
	Committed bool
}

// Inspect reads what the store holds about projection (for tenant, "" for
// none): its active version and the checkpoints of version's partitions.
// An empty version inspects the active one, and partitions 0 takes the
// number the active version records. With no active version and no
// version asked for, it returns an Inspection without partitions.
func Inspect(ctx context.Context, r readmodel.Reader, projection, tenant, version string, partitions int) (Inspection, error) {
	p, ok, err := readPointer(ctx, r, projection, tenant)
	if err != nil {
		return Inspection{}, err
	}
	in := Inspection{}
	if ok {
		in.Active, in.SwitchedAt = p.Version, p.SwitchedAt
	}
	in.Version = version
	if version == "" {
		if !ok {
			return in, nil
		}
		in.Version = p.Version
	}
	if partitions <= 0 {
		partitions = max(p.Partitions, 1)
	}
	l := layout{ns: readmodel.Namespace{Projection: projection, Version: in.Version, Tenant: tenant}, partitions: partitions}
	if l.spread, err = isSpread(ctx, r, l, p, ok); err != nil {
		return Inspection{}, err
	}
	docs, err := l.readEach(ctx, r, checkpointID)
	if err != nil {
		return Inspection{}, err
	}
	in.Partitions = make([]PartitionCheckpoint, partitions)
	for i, d := range docs {
		if d == nil {
			continue
		}
		var cp checkpoint
		if err := jsonUnmarshal(d.Data, &cp); err != nil {
			return Inspection{}, fmt.Errorf("projection: checkpoint %d of %s: %w", i, l.partition(i), err)
		}
		in.Partitions[i] = PartitionCheckpoint{Position: cp.Position, Committed: true}
	}
	return in, nil
}

// isSpread reports whether the version l names keeps one namespace per
// partition: the active pointer says so for the active version; for
// another, its partition 0 has a namespace of its own.
func isSpread(ctx context.Context, r readmodel.Reader, l layout, p pointer, active bool) (bool, error) {
	if active && p.Version == l.ns.Version {
		return p.Spread, nil
	}
	st, err := r.State(ctx, l.ns.WithPartition(0, max(l.partitions, 1)))
	return st.Initialized, err
}
