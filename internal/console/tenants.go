package console

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/eventfold/eventfold/projection/projectionops"
)

// errNoTenants answers a request for a named tenant when Config.Events
// does not implement TenantEvents.
var errNoTenants = badRequest("this event store has no tenants: only the default tenant can be shown")

// scope is what a request reads: one tenant's events, or every tenant's.
type scope struct {
	tenant string // the tenant; "" for the default one and for all
	all    bool
	events Events
}

// requestScope reads ?tenant= and, where allowAll, ?all_tenants=. Without
// them a request reads the default tenant, or Config.Tenant's.
func (s *Server) requestScope(r *http.Request, allowAll bool) (scope, error) {
	q := r.URL.Query()
	tenant := q.Get("tenant")
	if tenant == "" {
		tenant = s.cfg.Tenant
	}
	if s.cfg.Tenant != "" && tenant != s.cfg.Tenant {
		return scope{}, badRequest("this console shows tenant " + strconv.Quote(s.cfg.Tenant) + " only")
	}
	if v := q.Get("all_tenants"); v != "" {
		all, err := strconv.ParseBool(v)
		if err != nil {
			return scope{}, badRequest("all_tenants must be true or false")
		}
		if all {
			switch {
			case !allowAll:
				return scope{}, badRequest("all_tenants is only for searching by correlation ID: a stream belongs to one tenant")
			case s.cfg.Tenant != "":
				return scope{}, badRequest("this console shows tenant " + strconv.Quote(s.cfg.Tenant) + " only")
			case q.Get("tenant") != "":
				return scope{}, badRequest("give tenant or all_tenants, not both")
			}
			return scope{all: true, events: s.allTenants()}, nil
		}
	}
	events, err := s.tenantEvents(tenant)
	if err != nil {
		return scope{}, err
	}
	return scope{tenant: tenant, events: events}, nil
}

// tenantEvents returns the view of one tenant: Config.Events for the
// default tenant, its ForTenant view otherwise.
func (s *Server) tenantEvents(tenant string) (Events, error) {
	if tenant == "" {
		return s.cfg.Events, nil
	}
	te, ok := s.cfg.Events.(TenantEvents)
	if !ok {
		return nil, errNoTenants
	}
	return te.ForTenant(tenant)
}

// allTenants returns the view of every tenant; a store without tenants has
// only the default one.
func (s *Server) allTenants() Events {
	if te, ok := s.cfg.Events.(TenantEvents); ok {
		return te.AllTenants()
	}
	return s.cfg.Events
}

// tenantsJSON is what the page needs for its tenant selector.
type tenantsJSON struct {
	// Tenants are the tenants named in the projection catalog, as
	// suggestions: a tenant without projections can still be typed in.
	Tenants []string `json:"tenants"`
	// Fixed is Config.Tenant: the only tenant this console shows.
	Fixed string `json:"fixed"`
	// Supported says whether named tenants (and all_tenants) can be asked
	// for at all.
	Supported bool `json:"supported"`
}

func (s *Server) getTenants(r *http.Request) (any, error) {
	_, supported := s.cfg.Events.(TenantEvents)
	out := tenantsJSON{Tenants: []string{}, Fixed: s.cfg.Tenant, Supported: supported}
	if s.cfg.Tenant != "" {
		out.Tenants = append(out.Tenants, s.cfg.Tenant)
		return out, nil
	}
	entries, err := projectionops.ListProjections(r.Context(), s.cfg.ReadModels)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Tenant != "" && !slices.Contains(out.Tenants, e.Tenant) {
			out.Tenants = append(out.Tenants, e.Tenant)
		}
	}
	slices.Sort(out.Tenants)
	return out, nil
}

// HeldBackReporter is implemented by event stores whose log can withhold
// committed events from readers while an older transaction is open
// (pgstore.Store). When the console's Events implement it, the
// projections page warns while anything is held back.
type HeldBackReporter interface {
	// HeldBackEvents returns the number of committed events readers cannot
	// see yet and since when the log has been held back (zero when it is
	// not).
	HeldBackEvents(ctx context.Context) (events int64, oldestSince time.Time, err error)
}

// heldBackJSON is the answer of GET /api/log/held-back.
type heldBackJSON struct {
	// Supported says whether the store can tell at all.
	Supported bool  `json:"supported"`
	Events    int64 `json:"events"`
	// OldestOpenSeconds is how long the log has been held back: the
	// oldest holder's age, or the oldest held-back event's when the
	// holder's start is hidden from the store's role.
	OldestOpenSeconds float64 `json:"oldest_open_seconds"`
}

// getHeldBack reports the events an open transaction hides from every
// projection: in every tenant's log, or the console's fixed tenant's.
func (s *Server) getHeldBack(r *http.Request) (any, error) {
	events := s.allTenants()
	if s.cfg.Tenant != "" {
		var err error
		if events, err = s.tenantEvents(s.cfg.Tenant); err != nil {
			return nil, err
		}
	}
	hb, ok := events.(HeldBackReporter)
	if !ok {
		return heldBackJSON{}, nil
	}
	n, since, err := hb.HeldBackEvents(r.Context())
	if err != nil {
		return nil, err
	}
	out := heldBackJSON{Supported: true, Events: n}
	if !since.IsZero() {
		out.OldestOpenSeconds = max(time.Since(since).Seconds(), 0)
	}
	return out, nil
}
