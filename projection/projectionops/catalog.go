package projectionops

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

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

// ListProjections returns every projection a Runner has recorded in the
// catalog of r, ordered by name (then tenant). An entry stays after its
// application stops running it: pair it with [Inspect] to see whether it
// is served. Entries written by an older eventfold, which did not keep a
// catalog, are absent until their Runner restarts.
func ListProjections(ctx context.Context, r readmodel.Reader) ([]CatalogEntry, error) {
	var out []CatalogEntry
	q := readmodel.Query{Index: wire.CatalogIndex, Limit: readmodel.MaxLimit}
	for {
		page, err := r.Query(ctx, wire.Catalog, q)
		if err != nil {
			return nil, fmt.Errorf("projectionops: list the catalog: %w", err)
		}
		for _, d := range page.Documents {
			var e wire.CatalogEntry
			if err := json.Unmarshal(d.Data, &e); err != nil {
				return nil, fmt.Errorf("projectionops: catalog entry %q: %w", d.ID, err)
			}
			out = append(out, CatalogEntry(e))
		}
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}
