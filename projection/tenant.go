package projection

import "github.com/eventfold/eventfold/eventstore"

// otherTenant reports whether rec belongs to a tenant other than the
// Runner's, so that a tenant's read model never receives another tenant's
// events, however the Source is wired.
func (r *Runner) otherTenant(rec eventstore.Record) bool {
	return r.cfg.Tenant != "" && rec.Tenant != r.cfg.Tenant
}
