package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

// Defaults of ReplicaOptions.
const (
	DefaultReplicaMaxLagBytes    = 16 << 20
	DefaultReplicaCheckInterval  = time.Second
	defaultReplicaMeasureTimeout = 2 * time.Second
)

// ReplicaOptions configures a Replica. A nil *ReplicaOptions means all
// defaults.
type ReplicaOptions struct {
	// MaxLagBytes is how far, in bytes of WAL, the standby may be behind
	// the primary and still serve ReadAll. Further behind, ReadAll reads
	// the primary until the standby catches up. Default
	// DefaultReplicaMaxLagBytes (16 MiB).
	MaxLagBytes int64
	// CheckInterval is how often the standby's lag is measured, and how
	// long ReadAll keeps to the primary after the standby failed a read.
	// Default DefaultReplicaCheckInterval (1s).
	CheckInterval time.Duration
	// Logger receives a Warn record each time reads move to the primary
	// and an Info record each time they move back. Nil means no logging.
	Logger *slog.Logger
}

// ReplicaLag is how far a hot standby is behind its primary.
type ReplicaLag struct {
	// Bytes is the WAL the primary has written that the standby has not
	// replayed yet; 0 when it has replayed everything.
	Bytes int64 `json:"bytes"`
	// ReplayedAt is the commit time, on the primary, of the last
	// transaction the standby replayed; zero before the first since it
	// started. While the primary commits and Bytes grows, now minus
	// ReplayedAt is the lag in time.
	ReplayedAt time.Time `json:"replayed_at,omitzero"`
}

// Replica is a Store whose global-log reads go to a PostgreSQL hot
// standby: ReadAll runs on the standby while it is reachable and at most
// MaxLagBytes behind, and on the primary otherwise. Everything else (Append,
// ReadStream, Head, Changed, HeldBack, ...) is the embedded primary Store's.
//
// Reading the log from a standby is as gap-safe as reading it from the
// primary: the standby takes its snapshots from the transactions it knows
// are running on the primary, so a transaction that took its ID on the
// primary and has not committed holds back pg_snapshot_xmin on the standby
// too, and a row becomes visible there only when its commit is replayed.
// Moving between the two servers keeps the order: each read returns a
// prefix of the final log after the position asked for, whichever server
// answers it. docs/scaling.md describes the setup and the fallback.
//
// Head is the primary's, so the lag a projection.Runner reports over a
// Replica includes the standby's replay lag. ReadAll does not read its own
// writes at once: an append shows in it when the standby has replayed it.
type Replica struct {
	*Store
	standby *Store
	state   *replicaState
}

// replicaState is what every view of one Replica shares.
type replicaState struct {
	primary, standby DB
	opts             ReplicaOptions
	log              *slog.Logger

	mu         sync.Mutex
	checkedAt  time.Time // when the standby was last measured, or failed
	measuring  bool      // a measurement is running
	useStandby bool      // the outcome: ReadAll goes to the standby
	lag        ReplicaLag
	lagErr     error
}

// WithReplica returns a Replica of the view s that reads the global log
// from standby, a hot standby of s's primary (a streaming replica made
// with pg_basebackup -R, for example), with the same Options as s. It does
// not connect yet and never closes standby.
func (s *Store) WithReplica(standby DB, opts *ReplicaOptions) (*Replica, error) {
	if standby == nil {
		return nil, errors.New("pgstore: WithReplica: standby is nil")
	}
	st := &replicaState{primary: s.raw, standby: standby}
	if opts != nil {
		st.opts = *opts
	}
	if st.opts.MaxLagBytes < 0 || st.opts.CheckInterval < 0 {
		return nil, errors.New("pgstore: WithReplica: ReplicaOptions.MaxLagBytes and CheckInterval must not be negative")
	}
	if st.opts.MaxLagBytes == 0 {
		st.opts.MaxLagBytes = DefaultReplicaMaxLagBytes
	}
	if st.opts.CheckInterval == 0 {
		st.opts.CheckInterval = DefaultReplicaCheckInterval
	}
	st.log = st.opts.Logger
	if st.log == nil {
		st.log = slog.New(slog.DiscardHandler)
	}
	sb, err := New(standby, &s.opts)
	if err != nil {
		return nil, err
	}
	return &Replica{Store: s, standby: sb.view(s.tenant, s.all), state: st}, nil
}

func (r *Replica) viewOf(s *Store) *Replica {
	return &Replica{Store: s, standby: r.standby.view(s.tenant, s.all), state: r.state}
}

// ForTenant returns the Replica of the tenant's view (see Store.ForTenant).
func (r *Replica) ForTenant(tenant string) (*Replica, error) {
	v, err := r.Store.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return r.viewOf(v), nil
}

// AllTenants returns the reader of every tenant's events (see
// Store.AllTenants) whose ReadAll goes to the standby: what a relay over
// every tenant reads.
func (r *Replica) AllTenants() *AllTenantsReplica {
	all := r.Store.AllTenants()
	return &AllTenantsReplica{AllTenantsReader: all, replica: r.viewOf(all.s)}
}

// AllTenantsReplica is a Replica's reader of every tenant's events: an
// AllTenantsReader whose ReadAll reads the standby as Replica.ReadAll does.
type AllTenantsReplica struct {
	*AllTenantsReader
	replica *Replica
}

// ReadAll reads every tenant's log on the standby when it is up and close
// enough, else on the primary (see Replica.ReadAll).
func (a *AllTenantsReplica) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	return a.replica.ReadAll(ctx, after, limit)
}

// ReadAllFiltered reads every tenant's log filtered, on the server
// Replica.ReadAllFiltered reads.
func (a *AllTenantsReplica) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	return a.replica.ReadAllFiltered(ctx, after, f, limit)
}

// ReadingStandby reports whether ReadAll currently reads the standby.
func (a *AllTenantsReplica) ReadingStandby() bool { return a.replica.ReadingStandby() }

// Lag measures how far the standby is behind the primary now.
func (a *AllTenantsReplica) Lag(ctx context.Context) (ReplicaLag, error) { return a.replica.Lag(ctx) }

// StoreForTenant implements eventstore.TenantScoper with Replica views.
func (r *Replica) StoreForTenant(tenant string) (eventstore.Store, error) {
	v, err := r.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// StoreForAllTenants implements eventstore.TenantScoper with a Replica view.
func (r *Replica) StoreForAllTenants() eventstore.LogReader { return r.AllTenants() }

var (
	_ eventstore.Store        = (*Replica)(nil)
	_ eventstore.TenantScoper = (*Replica)(nil)
	_ eventstore.LogReader    = (*AllTenantsReplica)(nil)
	_ eventstore.HeadReader   = (*AllTenantsReplica)(nil)
)

// ReadAll implements eventstore.Store like Store.ReadAll, on the standby
// when it is up and close enough, else on the primary. A failed read on
// the standby is retried on the primary at once.
func (r *Replica) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	if r.state.route(ctx) {
		recs, err := r.standby.ReadAll(ctx, after, limit)
		if err == nil || ctx.Err() != nil || isInvalidInput(err) {
			return recs, err
		}
		r.state.standbyFailed(err)
	}
	return r.Store.ReadAll(ctx, after, limit)
}

// ReadAllFiltered implements eventstore.FilteredReader like
// Store.ReadAllFiltered, on the server ReadAll reads: the standby has the
// primary's index, and its snapshots the same horizon.
func (r *Replica) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	if r.state.route(ctx) {
		page, err := r.standby.ReadAllFiltered(ctx, after, f, limit)
		if err == nil || ctx.Err() != nil || isInvalidInput(err) {
			return page, err
		}
		r.state.standbyFailed(err)
	}
	return r.Store.ReadAllFiltered(ctx, after, f, limit)
}

// ReadingStandby reports whether ReadAll currently reads the standby.
func (r *Replica) ReadingStandby() bool {
	r.state.mu.Lock()
	defer r.state.mu.Unlock()
	return r.state.useStandby
}

// Lag measures how far the standby is behind the primary now. It fails
// when either server cannot be reached or the standby is not in recovery.
func (r *Replica) Lag(ctx context.Context) (ReplicaLag, error) {
	return r.state.measure(ctx)
}

// LastLag returns the standby's lag as last measured by ReadAll's checks,
// and the error of that measurement, without querying anything.
func (r *Replica) LastLag() (ReplicaLag, error) {
	r.state.mu.Lock()
	defer r.state.mu.Unlock()
	return r.state.lag, r.state.lagErr
}

// route reports whether the next read goes to the standby, measuring the
// standby's lag first when the last measurement is older than
// CheckInterval. One caller measures; the others use the last outcome.
func (st *replicaState) route(ctx context.Context) bool {
	st.mu.Lock()
	if st.measuring || time.Since(st.checkedAt) < st.opts.CheckInterval {
		use := st.useStandby
		st.mu.Unlock()
		return use
	}
	st.measuring = true
	st.mu.Unlock()

	mctx, cancel := context.WithTimeout(ctx, defaultReplicaMeasureTimeout)
	lag, err := st.measure(mctx)
	cancel()

	st.mu.Lock()
	defer st.mu.Unlock()
	st.measuring = false
	st.checkedAt = time.Now()
	if ctx.Err() != nil {
		return st.useStandby // cancelled: no verdict on the standby
	}
	st.lag, st.lagErr = lag, err
	switch use := err == nil && lag.Bytes <= st.opts.MaxLagBytes; {
	case use && !st.useStandby:
		st.log.Info("pgstore: reading the log from the standby", "lag_bytes", lag.Bytes)
	case !use && st.useStandby && err != nil:
		st.log.Warn("pgstore: standby unavailable; reading the log from the primary", "err", err)
	case !use && st.useStandby:
		st.log.Warn("pgstore: standby too far behind; reading the log from the primary",
			"lag_bytes", lag.Bytes, "max_lag_bytes", st.opts.MaxLagBytes)
	}
	st.useStandby = err == nil && lag.Bytes <= st.opts.MaxLagBytes
	return st.useStandby
}

// standbyFailed sends reads to the primary until the next check.
func (st *replicaState) standbyFailed(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.useStandby {
		st.log.Warn("pgstore: read on the standby failed; reading the log from the primary", "err", err)
	}
	st.useStandby, st.checkedAt, st.lagErr = false, time.Now(), err
}

// measure compares the primary's WAL position with the standby's replay
// position.
func (st *replicaState) measure(ctx context.Context) (ReplicaLag, error) {
	var lsn string
	if err := st.primary.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return ReplicaLag{}, fmt.Errorf("pgstore: replica lag: primary's WAL position: %w", err)
	}
	var (
		bytes    *int64
		replayed *time.Time
	)
	err := st.standby.QueryRow(ctx,
		"SELECT greatest(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint, pg_last_xact_replay_timestamp()",
		lsn).Scan(&bytes, &replayed)
	if err != nil {
		return ReplicaLag{}, fmt.Errorf("pgstore: replica lag: standby's replay position: %w", err)
	}
	if bytes == nil {
		return ReplicaLag{}, errors.New("pgstore: replica lag: the standby is not in recovery (not a standby, or promoted)")
	}
	lag := ReplicaLag{Bytes: *bytes}
	if replayed != nil {
		lag.ReplayedAt = *replayed
	}
	return lag, nil
}

func isInvalidInput(err error) bool {
	var e *eventstore.InvalidInputError
	return errors.As(err, &e)
}
