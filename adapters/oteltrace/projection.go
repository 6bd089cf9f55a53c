package oteltrace

import (
	"context"
	"fmt"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Extract returns ctx carrying, as its remote parent, the trace context
// Store stamped on rec (see TraceParentKey). A span started from the result
// continues the trace of the append that stored rec. When rec has no valid
// trace context, ctx is returned unchanged.
func Extract(ctx context.Context, rec eventstore.Record) context.Context {
	if rec.Metadata.Extra[TraceParentKey] == "" {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier(rec.Metadata.Extra))
}

// On registers fn with p for events of type eventType, as p.On does, with
// every call of fn in a consumer span from tracer provider tp. The span is
// named "eventfold.apply <eventType>", is a child of the trace context
// stored with the event (see Extract) and carries the projection's name and
// version and the event's ID, type, stream, version and position; an error
// from fn is recorded on it. A handler the Runner retries gets one span per
// attempt. An event without a trace context gets a span in a new trace.
// A nil tp traces nothing. On returns p.
func On(p *projection.Projection, eventType string, fn projection.HandlerFunc, tp trace.TracerProvider) *projection.Projection {
	a := newApplier(p, eventType, tp)
	return p.On(eventType, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		ctx, span := a.start(ctx, rec)
		defer span.End()
		return a.end(span, fn(ctx, tx, rec))
	})
}

// Handle registers a typed handler with p, as projection.Handle does (the
// span is named after the event's registered type name), with
// every call of fn in a span as described for On. The span starts after the
// event is decoded: a decoding failure faults the projection as usual but
// is not recorded on a span.
func Handle[E any](p *projection.Projection, fn func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, event E) error, tp trace.TracerProvider) {
	var zero E
	eventType := fmt.Sprintf("%T", zero)
	if reg := p.Registry(); reg != nil {
		if name, err := reg.Name(zero); err == nil {
			eventType = name
		}
	}
	a := newApplier(p, eventType, tp)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, event E) error {
		ctx, span := a.start(ctx, rec)
		defer span.End()
		return a.end(span, fn(ctx, tx, rec, event))
	})
}

type applier struct {
	tracer                    trace.Tracer
	name, projection, version string
}

func newApplier(p *projection.Projection, eventType string, tp trace.TracerProvider) applier {
	return applier{tracer: tracer(tp), name: "eventfold.apply " + eventType, projection: p.Name(), version: p.Version()}
}

func (a applier) start(ctx context.Context, rec eventstore.Record) (context.Context, trace.Span) {
	ctx, span := a.tracer.Start(Extract(ctx, rec), a.name, trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() {
		span.SetAttributes(
			AttrProjection.String(a.projection),
			AttrProjVersion.String(a.version),
			AttrEventID.String(rec.ID),
			AttrEventType.String(rec.Type),
			AttrStreamID.String(rec.StreamID),
			AttrVersion.Int64(rec.Version),
			AttrPosition.String(rec.Position.String()),
		)
	}
	return ctx, span
}

func (a applier) end(span trace.Span, err error) error {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
