package pgstore

import (
	"context"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

// AllTenantsReader reads every tenant's events in one global log: ReadAll,
// Head and Changed cover the whole log and Record.Tenant names each
// event's tenant; HeldBack, EventsByCorrelation and PruneCommandKeys cover
// every tenant. It cannot append, read or list streams, as a stream
// belongs to one tenant: use ForTenant for that.
type AllTenantsReader struct {
	s *Store // the store's view with all set
}

var (
	_ eventstore.LogReader      = (*AllTenantsReader)(nil)
	_ eventstore.HeadReader     = (*AllTenantsReader)(nil)
	_ eventstore.Notifier       = (*AllTenantsReader)(nil)
	_ eventstore.AllTenantsView = (*AllTenantsReader)(nil)
	_ eventstore.FilteredReader = (*AllTenantsReader)(nil)
)

// ReadAll implements eventstore.LogReader: every tenant's events.
func (r *AllTenantsReader) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	return r.s.ReadAll(ctx, after, limit)
}

// ReadAllFiltered implements eventstore.FilteredReader over every
// tenant's events.
func (r *AllTenantsReader) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	return r.s.ReadAllFiltered(ctx, after, f, limit)
}

// Head returns the position of the last visible event of any tenant.
func (r *AllTenantsReader) Head(ctx context.Context) (eventstore.Position, error) {
	return r.s.Head(ctx)
}

// Changed returns a channel that is closed after the next append of any
// tenant made through this process's Store or its views.
func (r *AllTenantsReader) Changed() <-chan struct{} { return r.s.Changed() }

// ReadsAllTenants implements eventstore.AllTenantsView: always true.
func (r *AllTenantsReader) ReadsAllTenants() bool { return true }

// HeldBack is Store.HeldBack over every tenant's events.
func (r *AllTenantsReader) HeldBack(ctx context.Context) (HeldBack, error) { return r.s.HeldBack(ctx) }

// HeldBackEvents is Store.HeldBackEvents over every tenant's events.
func (r *AllTenantsReader) HeldBackEvents(ctx context.Context) (events int64, oldestSince time.Time, err error) {
	return r.s.HeldBackEvents(ctx)
}

// EventsByCorrelation is Store.EventsByCorrelation over every tenant's
// events.
func (r *AllTenantsReader) EventsByCorrelation(ctx context.Context, correlationID string, limit int) ([]eventstore.Record, error) {
	return r.s.EventsByCorrelation(ctx, correlationID, limit)
}

// PruneCommandKeys is Store.PruneCommandKeys over every tenant's keys.
func (r *AllTenantsReader) PruneCommandKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	return r.s.PruneCommandKeys(ctx, cutoff)
}
