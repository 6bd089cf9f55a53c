package projectionops

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

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

// InspectOptions chooses what Inspect reads. A nil *InspectOptions
// inspects the active version.
type InspectOptions struct {
	// Version is the version to inspect, for example one being rebuilt;
	// empty means the active one.
	Version string
	// Partitions is the number of Version's partitions; zero means the
	// number the active version records.
	Partitions int
}

// Inspect reads what the store holds about projection name (for tenant, ""
// for none): its active version and the checkpoints of a version's
// partitions (the active one's unless opts names another). With no active
// version and no version asked for, it returns an Inspection without
// partitions.
func Inspect(ctx context.Context, r readmodel.Reader, name, tenant string, opts *InspectOptions) (Inspection, error) {
	var o InspectOptions
	if opts != nil {
		o = *opts
	}
	p, ok, err := wire.ReadPointer(ctx, r, name, tenant)
	if err != nil {
		return Inspection{}, err
	}
	in := Inspection{Version: o.Version}
	if ok {
		in.Active, in.SwitchedAt = p.Version, p.SwitchedAt
	}
	if in.Version == "" {
		if !ok {
			return in, nil
		}
		in.Version = p.Version
	}
	partitions := o.Partitions
	if partitions <= 0 {
		partitions = max(p.Partitions, 1)
	}
	ns := readmodel.Namespace{Projection: name, Version: in.Version, Tenant: tenant}
	spread, err := isSpread(ctx, r, ns, partitions, p, ok)
	if err != nil {
		return Inspection{}, err
	}
	docs, err := wire.ReadEach(ctx, r, ns, partitions, spread, wire.CheckpointID)
	if err != nil {
		return Inspection{}, err
	}
	in.Partitions = make([]PartitionCheckpoint, partitions)
	for i, d := range docs {
		if d == nil {
			continue
		}
		var cp wire.Checkpoint
		if err := json.Unmarshal(d.Data, &cp); err != nil {
			return Inspection{}, fmt.Errorf("projectionops: checkpoint %d of %s: %w", i, ns, err)
		}
		in.Partitions[i] = PartitionCheckpoint{Position: cp.Position, Committed: true}
	}
	return in, nil
}

// isSpread reports whether version ns.Version keeps one namespace per
// partition: the active pointer says so for the active version; for
// another, its partition 0 has a namespace of its own.
func isSpread(ctx context.Context, r readmodel.Reader, ns readmodel.Namespace, partitions int, p wire.Pointer, active bool) (bool, error) {
	if active && p.Version == ns.Version {
		return p.Spread, nil
	}
	st, err := r.State(ctx, ns.WithPartition(0, max(partitions, 1)))
	return st.Initialized, err
}

// Checkpoints returns the checkpoint of every partition of the active
// version of projection name (for tenant, "" for none), indexed by
// partition: a partition's checkpoint is the position up to which it has
// applied the events of the streams projection.PartitionOf assigns to it.
// A partition that has not committed a batch yet reports the zero
// Position. It fails with projection.ErrNotReady when no version is
// active. Tests and operators use it to see how far a read model has got;
// queries use projection.WaitFor instead.
func Checkpoints(ctx context.Context, r readmodel.Reader, name, tenant string) ([]eventstore.Position, error) {
	in, err := Inspect(ctx, r, name, tenant, nil)
	if err != nil {
		return nil, err
	}
	if in.Active == "" {
		return nil, fmt.Errorf("%w: %q has no active version", projection.ErrNotReady, name)
	}
	cps := make([]eventstore.Position, len(in.Partitions))
	for i, p := range in.Partitions {
		cps[i] = p.Position
	}
	return cps, nil
}
