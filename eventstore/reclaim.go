package eventstore

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ReclaimOptions configures a ReclaimJob. A nil *ReclaimOptions means all
// defaults.
type ReclaimOptions struct {
	// Interval is the time between passes. Zero means an hour.
	Interval time.Duration
	// Logger receives a line per pass that removed events (Info) or
	// failed (Warn). Nil discards them.
	Logger *slog.Logger
}

// ReclaimJob runs a Reclaimer's passes in the background. Passes of several
// jobs over one store may overlap; each removes what is left.
type ReclaimJob struct {
	r    Reclaimer
	opts ReclaimOptions
}

// NewReclaimJob returns a job that runs r.ReclaimStreams periodically.
func NewReclaimJob(r Reclaimer, opts *ReclaimOptions) (*ReclaimJob, error) {
	if r == nil {
		return nil, errors.New("eventstore: NewReclaimJob: the Reclaimer is nil")
	}
	j := &ReclaimJob{r: r}
	if opts != nil {
		j.opts = *opts
	}
	if j.opts.Interval < 0 {
		return nil, errors.New("eventstore: NewReclaimJob: Interval must not be negative")
	}
	if j.opts.Interval == 0 {
		j.opts.Interval = time.Hour
	}
	if j.opts.Logger == nil {
		j.opts.Logger = slog.New(slog.DiscardHandler)
	}
	return j, nil
}

// Run runs a pass at once and then every Interval until ctx ends, and
// returns ctx's error. A failed pass is logged and tried again at the next
// interval.
func (j *ReclaimJob) Run(ctx context.Context) error {
	t := time.NewTicker(j.opts.Interval)
	defer t.Stop()
	for {
		n, err := j.r.ReclaimStreams(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			j.opts.Logger.Warn("reclaiming streams failed; trying again at the next interval", "err", err, "interval", j.opts.Interval)
		case n > 0:
			j.opts.Logger.Info("reclaimed events of deleted, truncated and expired streams", "events", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
