package projection

import "time"

// Hooks let code outside the Runner, such as a metrics adapter, observe
// what a Runner does. Every field is optional. Hooks run on the Runner's
// goroutine, in the middle of its work: they must be safe for concurrent
// use (several Runners may share one Hooks) and return quickly.
type Hooks struct {
	// BatchApplied is called after a batch of events, its read-model
	// writes and its checkpoint were committed.
	BatchApplied func(BatchInfo)
	// Retried is called each time the Runner is about to try again after a
	// handler failed or a commit to the read-model store failed.
	Retried func(RetryInfo)
}

// BatchInfo describes a committed batch.
type BatchInfo struct {
	Projection, Version, Tenant string
	Partition                   int
	// Events is the number of events whose handlers ran; events of other
	// types or partitions, which the batch passed over, are not counted.
	Events int
	// Duration is the time from the start of the batch to its commit,
	// prefetch and handlers included.
	Duration time.Duration
}

// RetryInfo describes a retry.
type RetryInfo struct {
	Projection, Version, Tenant string
	Partition                   int
	// Stage is "handler" for a failing event handler and "commit" for a
	// failed write to the read-model store.
	Stage string
	// Attempt is the number of the attempt that failed, from 1.
	Attempt int
	// Err is the error of that attempt.
	Err error
}

func (r *Runner) observeBatch(events int, took time.Duration) {
	if h := r.cfg.Hooks; h != nil && h.BatchApplied != nil {
		p := r.cfg.Projection
		h.BatchApplied(BatchInfo{Projection: p.name, Version: p.version, Tenant: r.cfg.Tenant,
			Partition: r.cfg.Partition, Events: events, Duration: took})
	}
}

func (r *Runner) observeRetry(stage string, attempt int, err error) {
	if h := r.cfg.Hooks; h != nil && h.Retried != nil {
		p := r.cfg.Projection
		h.Retried(RetryInfo{Projection: p.name, Version: p.version, Tenant: r.cfg.Tenant,
			Partition: r.cfg.Partition, Stage: stage, Attempt: attempt, Err: err})
	}
}
