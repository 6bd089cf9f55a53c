package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

// The catalog lets operators' tools (the eventfold command's console and
// projections status, through package projectionops) find the projections
// an application runs without being told their names: projections are Go
// code compiled into the application, so the read-model store is the only
// place both sides see. Every Runner records itself there when it opens.

// register records the Runner's projection in the catalog, once per Runner.
// An entry of a newer version is left alone, and an entry that already says
// the same is not rewritten, so many partitions and restarts cost one read.
// The catalog only serves operators' tools, so a failure is logged, not
// fatal: the next time the Runner opens it tries again.
func (r *Runner) register(ctx context.Context) {
	r.mu.Lock()
	done := r.registered
	r.mu.Unlock()
	if done {
		return
	}
	if err := r.writeCatalog(ctx); err != nil {
		r.log.Warn("could not record the projection in the catalog; retrying when it reopens", "err", err)
		return
	}
	r.mu.Lock()
	r.registered = true
	r.mu.Unlock()
}

func (r *Runner) writeCatalog(ctx context.Context) error {
	p := r.cfg.Projection
	id := wire.CatalogID(p.name, r.cfg.Tenant)
	allTenants := r.cfg.Tenant == "" && eventstore.ReadsAllTenants(r.cfg.Source)
	doc, err := r.cfg.Store.Get(ctx, wire.Catalog, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
	case err != nil:
		return err
	default:
		var cur wire.CatalogEntry
		if json.Unmarshal(doc.Data, &cur) == nil &&
			(newerVersion(cur.Version, p.version) ||
				(cur.Version == p.version && cur.Partitions == r.cfg.Partitions && cur.AllTenants == allTenants)) {
			return nil
		}
	}
	data, _ := json.Marshal(wire.CatalogEntry{Name: p.name, Tenant: r.cfg.Tenant, Version: p.version,
		Partitions: r.cfg.Partitions, AllTenants: allTenants, RecordedAt: time.Now().UTC()})
	w := readmodel.Write{ID: id, Revision: wire.ControlRevision(), Data: data,
		Entries: []readmodel.Entry{{Index: wire.CatalogIndex, Value: readmodel.String(p.name)}}}
	if _, err := r.cfg.Store.Apply(ctx, wire.Catalog, readmodel.Batch{Writes: []readmodel.Write{w}}); err != nil {
		return fmt.Errorf("projection: record %q in the catalog: %w", p.name, err)
	}
	return nil
}
