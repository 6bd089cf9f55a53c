package oteltrace

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span attribute keys set by the package.
const (
	AttrStreamID      = attribute.Key("eventfold.stream_id")
	AttrCommandID     = attribute.Key("eventfold.command_id")
	AttrCorrelationID = attribute.Key("eventfold.correlation_id")
	AttrOutcome       = attribute.Key("eventfold.outcome")
	AttrVersion       = attribute.Key("eventfold.stream_version")
	AttrPosition      = attribute.Key("eventfold.position")
	AttrEvents        = attribute.Key("eventfold.events")
	AttrEventID       = attribute.Key("eventfold.event_id")
	AttrEventType     = attribute.Key("eventfold.event_type")
	AttrProjection    = attribute.Key("eventfold.projection")
	AttrProjVersion   = attribute.Key("eventfold.projection_version")
)

// Command outcomes, the values of the eventfold.outcome attribute of
// command spans.
const (
	OutcomeOK          = "ok"
	OutcomeReplayed    = "replayed"
	OutcomeConflict    = "conflict"
	OutcomeInvalid     = "invalid"
	OutcomeDomainError = "domain_error"
	OutcomeError       = "error"
)

// Commands returns a command.Middleware that runs every command in a span
// named after the command's Go type (for example "bank.Deposit"), from
// tracer provider tp. The span is a child of the span in the caller's ctx,
// if any, and carries the stream ID, the command and correlation IDs and the
// outcome: ok, replayed (an idempotency key seen before), conflict
// (conflicts outlasted the retries), invalid, domain_error (a decider's
// refusal, command.ErrRejected, or an error Options.DomainError accepts) or
// error. A failed command records its error on the span. Add it first in command.Options.Middleware so that its span covers
// the other middleware. A nil tp traces nothing.
func Commands(tp trace.TracerProvider, opts *Options) command.Middleware {
	t := tracer(tp)
	var domain func(error) bool
	if opts != nil {
		domain = opts.DomainError
	}
	return func(next command.HandleFunc) command.HandleFunc {
		return func(ctx context.Context, streamID string, cmd any) (command.Result, error) {
			ctx, span := t.Start(ctx, fmt.Sprintf("%T", cmd))
			defer span.End()
			res, err := next(ctx, streamID, cmd)
			if !span.IsRecording() {
				return res, err
			}
			outcome := commandOutcome(res, err, domain)
			span.SetAttributes(
				AttrStreamID.String(streamID),
				AttrCommandID.String(command.CommandID(ctx)),
				AttrCorrelationID.String(command.CorrelationID(ctx)),
				AttrOutcome.String(outcome),
			)
			if err != nil {
				span.RecordError(err)
				if outcome != OutcomeDomainError {
					span.SetStatus(codes.Error, err.Error())
				}
				return res, err
			}
			span.SetAttributes(AttrVersion.Int64(res.StreamVersion), AttrPosition.String(res.Position.String()))
			return res, err
		}
	}
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
