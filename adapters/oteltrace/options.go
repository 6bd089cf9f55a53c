package oteltrace

import (
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// scope is the instrumentation scope of every tracer the package creates.
const scope = "github.com/eventfold/eventfold/adapters/oteltrace"

// Options configures Commands. A nil *Options means all defaults.
type Options struct {
	// DomainError tells Commands which further errors are domain errors.
	// Their spans record the error but keep an unset status, since the
	// command worked as designed. Errors matching command.ErrRejected
	// (everything a Decider's Decide returns) always are; use this for
	// refusals made elsewhere, for example in middleware.
	DomainError func(error) bool
}

// tracer returns the package's tracer from tp; a nil tp traces nothing.
func tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(scope)
}
