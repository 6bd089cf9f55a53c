package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// HeldBack describes committed events that readers of the global log
// (ReadAll, and so projections and relays) cannot see yet, and the open
// transactions that hold them back. See "Long transactions" in the package
// documentation.
type HeldBack struct {
	// Events is the number of committed events of the view's log (its
	// tenant's, or every tenant's on the AllTenants view) that ReadAll does
	// not return yet.
	Events int64 `json:"events"`
	// Since is when the oldest held-back event was recorded: the log has
	// been held back from readers at least since then. It is known however
	// little pg_stat_activity shows this role about the holders. Zero when
	// Events is 0.
	Since time.Time `json:"since,omitzero"`
	// Holders are the transactions, anywhere in the cluster, that took a
	// transaction ID before the newest held-back event's and have not
	// ended, oldest first. Each one ending releases the events behind it.
	// Empty when Events is 0.
	Holders []HorizonHolder `json:"holders"`
}

// HorizonHolder is an open transaction that holds back the log.
type HorizonHolder struct {
	// PID is the backend's process ID (pg_terminate_backend ends it); 0 for
	// a prepared transaction.
	PID int `json:"pid"`
	// PreparedID is a prepared transaction's identifier (COMMIT PREPARED or
	// ROLLBACK PREPARED end it); "" for others.
	PreparedID  string `json:"prepared_id,omitempty"`
	Database    string `json:"database"`
	User        string `json:"user"`
	Application string `json:"application"`
	// State is pg_stat_activity's state, for example "idle in
	// transaction", or "prepared"; empty when Hidden.
	State string `json:"state"`
	// Started is when the transaction began, or was prepared; zero when
	// Hidden.
	Started time.Time `json:"started,omitzero"`
	// Hidden reports that PostgreSQL hides the transaction's state, start
	// and query from this role: pg_stat_activity shows them only to the
	// holder's role, roles with its privileges, and pg_read_all_stats.
	// HeldBack.Since still tells how long the log has been held.
	Hidden bool `json:"hidden,omitempty"`
	// XIDAge is the number of transaction IDs assigned since its own.
	XIDAge int64 `json:"xid_age"`
	// Query is its last statement as pg_stat_activity shows it; empty for
	// a prepared transaction or when Hidden.
	Query string `json:"query"`
}

// HeldBack reports how many committed events of the view's log readers
// cannot see yet because an older transaction is still open, and which
// transactions those are. When projections stop advancing while appends
// succeed, this says why and whom to end. It is two short read-only
// statements, meant for operators' tools and health checks. Seeing the
// state, start and query of other roles' transactions needs the
// pg_read_all_stats role (HorizonHolder.Hidden says when they are hidden);
// how long the log has been held back (HeldBack.Since) needs nothing more.
func (s *Store) HeldBack(ctx context.Context) (HeldBack, error) {
	q := pgx.Identifier{s.opts.Schema}.Sanitize()
	countSQL := "SELECT count(*), coalesce(max(transaction_id)::text, ''), min(recorded_at) FROM " + q +
		".events WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())"
	args := []any{}
	if !s.all {
		countSQL += " AND tenant_id = $1"
		args = append(args, s.tenant)
	}
	var hb HeldBack
	var newest string
	var since *time.Time
	if err := s.db.QueryRow(ctx, countSQL, args...).Scan(&hb.Events, &newest, &since); err != nil {
		return HeldBack{}, fmt.Errorf("pgstore: held-back events: %w", err)
	}
	if since != nil {
		hb.Since = *since
	}
	if hb.Events == 0 {
		return hb, nil
	}
	// Transactions whose ID precedes the newest held-back event's: every
	// one of them still running keeps that event out of readers' view.
	// pg_stat_activity shows every role the xid, but another role's state,
	// start and query only to those with its privileges: a transaction
	// with an xid and no xact_start is one hidden from this role.
	rows, err := s.db.Query(ctx, `
SELECT a.pid, coalesce(a.datname, ''), coalesce(a.usename, ''), coalesce(a.application_name, ''),
       coalesce(a.state, ''), a.xact_start, age(a.backend_xid),
       CASE WHEN a.xact_start IS NULL THEN '' ELSE coalesce(a.query, '') END, '', a.xact_start IS NULL
  FROM pg_stat_activity a
 WHERE a.backend_xid IS NOT NULL AND age(a.backend_xid) > age(xid($1::text::xid8))
UNION ALL
SELECT 0, p.database, p.owner, '', 'prepared', p.prepared, age(p.transaction), '', p.gid, false
  FROM pg_prepared_xacts p
 WHERE age(p.transaction) > age(xid($1::text::xid8))
 ORDER BY 7 DESC`, newest)
	if err != nil {
		return HeldBack{}, fmt.Errorf("pgstore: transactions holding back the log: %w", err)
	}
	hb.Holders, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (HorizonHolder, error) {
		var h HorizonHolder
		var pid, age int32
		var started *time.Time
		err := row.Scan(&pid, &h.Database, &h.User, &h.Application, &h.State, &started, &age, &h.Query, &h.PreparedID, &h.Hidden)
		h.PID, h.XIDAge = int(pid), int64(age)
		if started != nil {
			h.Started = *started
		}
		return h, err
	})
	if err != nil {
		return HeldBack{}, fmt.Errorf("pgstore: transactions holding back the log: %w", err)
	}
	return hb, nil
}

// HeldBackEvents returns HeldBack's event count and since when the log has
// been held back: when the longest-running transaction holding it began,
// or, when no holder's start is visible to this role, when the oldest
// held-back event was recorded (zero when nothing is held back). It is what
// a metric or a health check needs (prommetrics.NewHeldBackCollector reads
// it).
func (s *Store) HeldBackEvents(ctx context.Context) (events int64, oldestSince time.Time, err error) {
	hb, err := s.HeldBack(ctx)
	if err != nil || hb.Events == 0 {
		return hb.Events, time.Time{}, err
	}
	return hb.Events, hb.HeldSince(), nil
}

// HeldSince returns since when the log has been held back: the start of
// the longest-running holder whose start this role can see, or Since when
// that is earlier or no start is visible. Zero when nothing is held back.
func (hb HeldBack) HeldSince() time.Time {
	since := hb.Since
	for _, h := range hb.Holders {
		if !h.Started.IsZero() && (since.IsZero() || h.Started.Before(since)) {
			since = h.Started
		}
	}
	return since
}

// HiddenHolders returns how many of Holders are Hidden.
func (hb HeldBack) HiddenHolders() int {
	n := 0
	for _, h := range hb.Holders {
		if h.Hidden {
			n++
		}
	}
	return n
}
