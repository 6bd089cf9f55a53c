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
	// transaction", or "prepared".
	State string `json:"state"`
	// Started is when the transaction began, or was prepared.
	Started time.Time `json:"started"`
	// XIDAge is the number of transaction IDs assigned since its own.
	XIDAge int64 `json:"xid_age"`
	// Query is its last statement as pg_stat_activity shows it; empty for
	// a prepared transaction or without the privilege to see it.
	Query string `json:"query"`
}

// HeldBack reports how many committed events of the view's log readers
// cannot see yet because an older transaction is still open, and which
// transactions those are. When projections stop advancing while appends
// succeed, this says why and whom to end. It is two short read-only
// statements, meant for operators' tools and health checks. Seeing other
// roles' queries needs the pg_read_all_stats role.
func (s *Store) HeldBack(ctx context.Context) (HeldBack, error) {
	q := pgx.Identifier{s.opts.Schema}.Sanitize()
	countSQL := "SELECT count(*), coalesce(max(transaction_id)::text, '') FROM " + q +
		".events WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())"
	args := []any{}
	if !s.all {
		countSQL += " AND tenant_id = $1"
		args = append(args, s.tenant)
	}
	var hb HeldBack
	var newest string
	if err := s.db.QueryRow(ctx, countSQL, args...).Scan(&hb.Events, &newest); err != nil {
		return HeldBack{}, fmt.Errorf("pgstore: held-back events: %w", err)
	}
	if hb.Events == 0 {
		return hb, nil
	}
	// Transactions whose ID precedes the newest held-back event's: every
	// one of them still running keeps that event out of readers' view.
	rows, err := s.db.Query(ctx, `
SELECT a.pid, coalesce(a.datname, ''), coalesce(a.usename, ''), coalesce(a.application_name, ''),
       coalesce(a.state, ''), coalesce(a.xact_start, now()), age(a.backend_xid), coalesce(a.query, ''), ''
  FROM pg_stat_activity a
 WHERE a.backend_xid IS NOT NULL AND age(a.backend_xid) > age(xid($1::text::xid8))
UNION ALL
SELECT 0, p.database, p.owner, '', 'prepared', p.prepared, age(p.transaction), '', p.gid
  FROM pg_prepared_xacts p
 WHERE age(p.transaction) > age(xid($1::text::xid8))
 ORDER BY 7 DESC`, newest)
	if err != nil {
		return HeldBack{}, fmt.Errorf("pgstore: transactions holding back the log: %w", err)
	}
	hb.Holders, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (HorizonHolder, error) {
		var h HorizonHolder
		var pid, age int32
		err := row.Scan(&pid, &h.Database, &h.User, &h.Application, &h.State, &h.Started, &age, &h.Query, &h.PreparedID)
		h.PID, h.XIDAge = int(pid), int64(age)
		return h, err
	})
	if err != nil {
		return HeldBack{}, fmt.Errorf("pgstore: transactions holding back the log: %w", err)
	}
	return hb, nil
}

// HeldBackEvents returns HeldBack's event count and when the
// longest-running transaction holding them back began (zero when nothing
// is held back): what a metric or a health check needs
// (prommetrics.NewHeldBackCollector reads it).
func (s *Store) HeldBackEvents(ctx context.Context) (events int64, oldestSince time.Time, err error) {
	hb, err := s.HeldBack(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	for _, h := range hb.Holders {
		if oldestSince.IsZero() || h.Started.Before(oldestSince) {
			oldestSince = h.Started
		}
	}
	return hb.Events, oldestSince, nil
}
