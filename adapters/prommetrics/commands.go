package prommetrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/prometheus/client_golang/prometheus"
)

// Command outcomes beyond OutcomeOK, OutcomeReplayed, OutcomeConflict and
// OutcomeError, the values of the outcome label of eventfold_commands_total.
const (
	// OutcomeDomainError is a decider's refusal (command.ErrRejected) or
	// an error Options.DomainError accepts.
	OutcomeDomainError = "domain_error"
	// OutcomeInvalid is a command rejected by validation
	// (command.ErrInvalidCommand) or by the store (eventstore.ErrInvalidInput).
	OutcomeInvalid = "invalid"
)

// Commands returns a command.Middleware that counts commands and their
// latency, with metrics registered with reg:
//
//	eventfold_commands_total{command, outcome}            counter
//	eventfold_command_duration_seconds{command, outcome}  histogram
//
// The command label is the command's Go type (for example "bank.Deposit").
// The outcome is ok, replayed (an idempotency key seen before), conflict
// (conflicts outlasted the retries), invalid, domain_error (a decider's refusal,
// command.ErrRejected, or an error Options.DomainError accepts) or error. Add it first in command.Options.Middleware
// so that it also times the other middleware.
func Commands(reg prometheus.Registerer, opts *Options) (command.Middleware, error) {
	if reg == nil {
		return nil, errNilRegisterer
	}
	total, err1 := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eventfold_commands_total",
		Help: "Commands handled, by Go type and outcome: ok, replayed, conflict, invalid, domain_error, error.",
	}, []string{"command", "outcome"}))
	latency, err2 := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "eventfold_command_duration_seconds",
		Help:    "Latency of commands, loading, deciding, retries and appending included, by Go type and outcome.",
		Buckets: opts.buckets(),
	}, []string{"command", "outcome"}))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	var domain func(error) bool
	if opts != nil {
		domain = opts.DomainError
	}
	return func(next command.HandleFunc) command.HandleFunc {
		return func(ctx context.Context, streamID string, cmd any) (command.Result, error) {
			start := time.Now()
			res, err := next(ctx, streamID, cmd)
			outcome := commandOutcome(res, err, domain)
			name := fmt.Sprintf("%T", cmd)
			total.WithLabelValues(name, outcome).Inc()
			latency.WithLabelValues(name, outcome).Observe(time.Since(start).Seconds())
			return res, err
		}
	}, nil
}

func commandOutcome(res command.Result, err error, domain func(error) bool) string {
	switch {
	case err == nil && res.Replayed:
		return OutcomeReplayed
	case err == nil:
		return OutcomeOK
	case errors.Is(err, eventstore.ErrConcurrency):
		return OutcomeConflict
	case errors.Is(err, command.ErrInvalidCommand), errors.Is(err, eventstore.ErrInvalidInput):
		return OutcomeInvalid
	case errors.Is(err, command.ErrRejected), domain != nil && domain(err):
		return OutcomeDomainError
	}
	return OutcomeError
}
