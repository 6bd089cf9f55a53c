package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

// The active-version pointer of a projection lives in a namespace of its
// own (package wire), so switching versions is one atomic write and
// dropping a version never touches it.
type pointer = wire.Pointer

func pointerNamespace(projection, tenant string) readmodel.Namespace {
	return wire.PointerNamespace(projection, tenant)
}

// ErrNotReady reports a projection that has no version serving readers
// yet: it was never built, or it is being rebuilt after its read model was
// lost. Check with errors.Is.
var ErrNotReady = errors.New("projection: read model not ready")

// ErrStale reports that WaitFor gave up before the projection reached the
// position. Check with errors.Is; the read model may still be read, stale.
var ErrStale = errors.New("projection: read model has not caught up")

func readPointer(ctx context.Context, r readmodel.Reader, projection, tenant string) (pointer, bool, error) {
	return wire.ReadPointer(ctx, r, projection, tenant)
}

// Active returns the namespace readers of projection (for tenant, "" for
// none) are served from: the version that last caught up. It fails with
// ErrNotReady when no version is ready. Queries call it (or cache its answer
// briefly) and read documents from the namespace it returns.
func Active(ctx context.Context, r readmodel.Reader, projection, tenant string) (readmodel.Namespace, error) {
	p, ok, err := readPointer(ctx, r, projection, tenant)
	if err != nil {
		return readmodel.Namespace{}, err
	}
	if !ok {
		return readmodel.Namespace{}, fmt.Errorf("%w: %q has no active version", ErrNotReady, projection)
	}
	return readmodel.Namespace{Projection: projection, Version: p.Version, Tenant: tenant}, nil
}

// WaitFor waits until the active version of projection has applied every
// event up to token (the position a command's append returned), then
// returns nil. When ctx ends first it returns an error matching ErrStale
// (or ErrNotReady when no version is active); the caller may then read
// stale data or report a timeout. It reads the projection's checkpoints in
// the read-model store and never touches the event store. Servers that wait
// often should share one Waiter per projection instead.
func WaitFor(ctx context.Context, r readmodel.Reader, projection, tenant string, token eventstore.Position) error {
	return NewWaiter(r, projection, tenant, nil).WaitFor(ctx, token)
}

// newerVersion reports whether version a is newer than b: numerically when
// both are integers, otherwise by string order; of two generations of one
// version (rebuild.go), the later.
func newerVersion(a, b string) bool {
	a, genA := splitGeneration(a)
	b, genB := splitGeneration(b)
	if a == b {
		return genA > genB
	}
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return x > y
	}
	return a > b
}

// checkRetired returns ErrRetired when a newer version is active.
func (r *Runner) checkRetired(ctx context.Context) error {
	p, ok, err := readPointer(ctx, r.cfg.Store, r.cfg.Projection.name, r.cfg.Tenant)
	if err != nil {
		return err
	}
	if ok && newerVersion(p.Version, r.cfg.Projection.version) {
		return ErrRetired
	}
	return nil
}

// activate makes this version the one readers are served from once every
// partition has caught up, and drops the version it replaces.
func (r *Runner) activate(ctx context.Context, epoch string, pos eventstore.Position) error {
	r.mu.Lock()
	active := r.status.Active
	r.mu.Unlock()
	if active {
		return nil
	}
	cur, ok, err := readPointer(ctx, r.cfg.Store, r.cfg.Projection.name, r.cfg.Tenant)
	if err != nil {
		return err
	}
	mine := r.cfg.Projection.version
	if ok && cur.Version == mine {
		r.setActive()
		return nil
	}
	if ok && newerVersion(cur.Version, mine) {
		return ErrRetired
	}
	if r.cfg.Partitions > 1 {
		// Every partition marks itself caught up; partition 0 switches
		// readers over once all have.
		flag, _ := json.Marshal(checkpoint{Position: pos, CaughtUp: true})
		w := readmodel.Write{ID: caughtUpID(r.cfg.Partition), Revision: readmodel.Revision{Commit: uint64(time.Now().UnixNano())}, Data: flag}
		fence := r.expectedFence(epoch)
		if _, err := r.cfg.Store.Apply(ctx, r.ns, readmodel.Batch{Writes: []readmodel.Write{w}, Checkpoint: fence, IfCheckpoint: &fence}); err != nil {
			if errors.Is(err, readmodel.ErrCheckpointMismatch) {
				return errLost
			}
			return err
		}
		if r.cfg.Partition != 0 {
			return nil
		}
		marks, err := r.layout().readEach(ctx, r.cfg.Store, caughtUpID)
		if err != nil {
			return err
		}
		if slices.Contains(marks, nil) {
			return nil
		}
	}
	if ok {
		// Freeze the serving version, then switch only once this one has
		// applied at least as much, so no reader ever sees data go back.
		caughtUp, err := r.reachedFrozen(ctx, cur, pos)
		if err != nil || !caughtUp {
			return err
		}
	}
	data, _ := json.Marshal(pointer{Version: mine, Partitions: r.cfg.Partitions, Spread: r.cfg.Spread, SwitchedAt: time.Now().UTC()})
	rev := readmodel.Revision{Commit: uint64(time.Now().UnixNano())}
	if _, err := r.cfg.Store.Apply(ctx, r.ptr, readmodel.Batch{Writes: []readmodel.Write{{ID: wire.PointerID, Revision: rev, Data: data}}}); err != nil {
		return err
	}
	r.log.Info("version is now active", "replaced", cur.Version)
	if ok && cur.Version != mine {
		old := pointerLayout(r.cfg.Projection.name, r.cfg.Tenant, cur)
		if err := old.dropAll(ctx, r.cfg.Store); err != nil {
			r.log.Warn("could not drop the replaced version; drop it by hand", "replaced", cur.Version, "err", err)
		}
	}
	r.setActive()
	return nil
}

// reachedFrozen stops the writes of the version being replaced and reports
// whether this version's position is at or past every checkpoint it left.
func (r *Runner) reachedFrozen(ctx context.Context, cur pointer, pos eventstore.Position) (bool, error) {
	old := pointerLayout(r.cfg.Projection.name, r.cfg.Tenant, cur)
	for _, ns := range old.namespaces() {
		if _, err := r.cfg.Store.Apply(ctx, ns, readmodel.Batch{Checkpoint: retiredEpoch}); err != nil {
			return false, err
		}
	}
	docs, err := old.readEach(ctx, r.cfg.Store, checkpointID)
	if err != nil {
		return false, err
	}
	mine := pos
	if r.cfg.Partitions > 1 {
		// Partition 0 speaks for all: the lowest caught-up mark counts.
		marks, err := r.layout().readEach(ctx, r.cfg.Store, caughtUpID)
		if err != nil {
			return false, err
		}
		for _, m := range marks {
			if m == nil {
				return false, nil
			}
			var cp checkpoint
			if err := json.Unmarshal(m.Data, &cp); err != nil {
				return false, err
			}
			if cp.Position.Before(mine) {
				mine = cp.Position
			}
		}
	}
	for _, d := range docs {
		if d == nil {
			continue
		}
		var cp checkpoint
		if err := json.Unmarshal(d.Data, &cp); err != nil {
			return false, err
		}
		if mine.Before(cp.Position) {
			return false, nil
		}
	}
	return true, nil
}

func caughtUpID(partition int) string { return wire.CaughtUpID(partition) }

func (r *Runner) setActive() {
	r.mu.Lock()
	r.status.Active = true
	r.signal()
	r.mu.Unlock()
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
