// Package console serves the eventfold command's read-only web console: one
// embedded page (HTML, a little vanilla JavaScript and CSS, no third-party
// code, so it works offline) and the JSON endpoints it reads.
//
//	GET /                              the page and its static files
//	GET /api/projections               every catalogued projection, its
//	                                   checkpoints, head and lag
//	GET /api/projections/lag-history   lag samples kept in memory
//	GET /api/streams?prefix=&after=&limit=
//	GET /api/streams/{id}?from=&limit= a stream's events with metadata
//	GET /api/correlation/{id}          a flow: its events in log order, the
//	                                   commands that caused them, and which
//	                                   projections have passed each event
//	GET /api/tenants                   the tenants the catalog names
//
// Tenants: the stream and correlation endpoints take ?tenant= (default: the
// default tenant), and the correlation endpoint ?all_tenants=true to search
// every tenant; each event names its tenant. They read the store's own
// views ([TenantEvents]: ForTenant, AllTenants), never filter by tenant
// themselves. Projections come grouped by tenant, and a tenant's lag is
// measured against that tenant's head, not the global one. Config.Tenant
// confines the console to one tenant.
//
// Projections are found through the catalog their Runners keep
// (projectionops.ListProjections), so the console is never told their names.
// The data sources are small interfaces ([Events] and a
// [readmodel.Reader]), so the handlers run against memstore in tests.
//
// Only GET and HEAD are served: the console has no write actions. With
// Config.Token set, every /api/ request must carry it, as
// "Authorization: Bearer <token>" or "?token=<token>", compared in constant
// time. The page shell holds no data and loads without it; it asks for the
// token when the API refuses.
package console
