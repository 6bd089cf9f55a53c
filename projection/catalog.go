package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/readmodel"
)

// The catalog lets operators' tools (the eventfold command's console and
// projections status) find the projections an application runs without
// being told their names: projections are Go code compiled into the
// application, so the read-model store is the only place both sides see.
// Every Runner records itself there when it opens. "$" cannot start a
// version, so no projection's namespace is ever this one.
var catalogNamespace = readmodel.Namespace{Projection: "$catalog", Version: "$catalog"}

const catalogIndex = "name"

// CatalogEntry describes one projection (for one tenant) as the newest
// Runner that opened it recorded it.
type CatalogEntry struct {
	Name    string `json:"name"`
	Tenant  string `json:"tenant,omitempty"`
	Version string `json:"version"`
	// Partitions is the number of partitions the projection runs with.
	Partitions int `json:"partitions"`
	// AllTenants says the projection reads every tenant's log (a Runner
	// with no Config.Tenant over the store's AllTenants view), so its lag
	// is measured against the head of every tenant's log, not the default
	// tenant's. A source that cannot tell (eventstore.AllTenantsView)
	// leaves it false.
	AllTenants bool `json:"all_tenants,omitempty"`
	// RecordedAt is when a Runner last changed the entry.
	RecordedAt time.Time `json:"recorded_at"`
}

// catalogID names the entry of one projection and tenant. JSON quoting keeps
// any bytes in either apart.
func catalogID(name, tenant string) string {
	b, _ := json.Marshal([2]string{name, tenant})
	return string(b)
}

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
	id := catalogID(p.name, r.cfg.Tenant)
	allTenants := r.cfg.Tenant == "" && eventstore.ReadsAllTenants(r.cfg.Source)
	doc, err := r.cfg.Store.Get(ctx, catalogNamespace, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound):
	case err != nil:
		return err
	default:
		var cur CatalogEntry
		if json.Unmarshal(doc.Data, &cur) == nil &&
			(newerVersion(cur.Version, p.version) ||
				(cur.Version == p.version && cur.Partitions == r.cfg.Partitions && cur.AllTenants == allTenants)) {
			return nil
		}
	}
	data, _ := json.Marshal(CatalogEntry{Name: p.name, Tenant: r.cfg.Tenant, Version: p.version,
		Partitions: r.cfg.Partitions, AllTenants: allTenants, RecordedAt: time.Now().UTC()})
	w := readmodel.Write{ID: id, Revision: readmodel.Revision{Commit: uint64(time.Now().UnixNano())}, Data: data,
		Entries: []readmodel.Entry{{Index: catalogIndex, Value: readmodel.String(p.name)}}}
	if _, err := r.cfg.Store.Apply(ctx, catalogNamespace, readmodel.Batch{Writes: []readmodel.Write{w}}); err != nil {
		return fmt.Errorf("projection: record %q in the catalog: %w", p.name, err)
	}
	return nil
}

// ListProjections returns every projection a Runner has recorded in the
// catalog of r, ordered by name (then tenant). An entry stays after its
// application stops running it: pair it with [Active] or [Checkpoints] to
// see whether it is served. Entries written by an older eventfold, which
// did not keep a catalog, are absent until their Runner restarts.
func ListProjections(ctx context.Context, r readmodel.Reader) ([]CatalogEntry, error) {
	var out []CatalogEntry
	q := readmodel.Query{Index: catalogIndex, Limit: readmodel.MaxLimit}
	for {
		page, err := r.Query(ctx, catalogNamespace, q)
		if err != nil {
			return nil, fmt.Errorf("projection: list the catalog: %w", err)
		}
		for _, d := range page.Documents {
			var e CatalogEntry
			if err := json.Unmarshal(d.Data, &e); err != nil {
				return nil, fmt.Errorf("projection: catalog entry %q: %w", d.ID, err)
			}
			out = append(out, e)
		}
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}
