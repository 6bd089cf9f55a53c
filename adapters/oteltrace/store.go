package oteltrace

import (
	"context"
	"errors"
	"maps"

	"github.com/eventfold/eventfold/eventstore"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Keys of the trace context in eventstore.Metadata.Extra, as defined by the
// W3C Trace Context recommendation. Over Watermill they travel as the
// message metadata of the same names.
const (
	TraceParentKey = "traceparent"
	TraceStateKey  = "tracestate"
)

// w3c reads and writes TraceParentKey and TraceStateKey.
var w3c propagation.TraceContext

// Store returns inner decorated with tracing from tracer provider tp. Each
// Append (and AppendKeyed and AppendCommand) runs in a producer span named
// "eventfold.append", a child of the span in ctx, with the stream ID and
// the number of events; a failed append records its error.
//
// When the span's context is valid, Append stamps it on every event as the
// Extra entries TraceParentKey and TraceStateKey (the second only when the
// trace has state), overwriting entries of those names. It stamps copies:
// the caller's slice and maps are not modified. With a no-op tp and no span
// in ctx, the events pass through as they are. ReadStream, called by a
// command.Handler to load a stream, gets a span only when ctx already
// carries one; ReadAll, the tail of projections and relays, gets none.
//
// The result is an eventstore.Instrument of inner: it keeps every
// capability of inner and claims none inner lacks (see eventstore.As).
// AppendKeyed and AppendCommand of its eventstore.KeyedAppender and
// eventstore.OutcomeStore are traced as appends, and its tenant views
// (eventstore.ForTenant and eventstore.AllTenants of the result, when inner
// has them) are traced too. A nil tp traces nothing.
func Store(inner eventstore.Store, tp trace.TracerProvider) (eventstore.Store, error) {
	if inner == nil {
		return nil, errors.New("oteltrace: Store needs an event store")
	}
	s := &store{tracer: tracer(tp)}
	return eventstore.Instrument(inner, eventstore.Hooks{Append: s.traceAppend, ReadStream: s.traceReadStream}), nil
}

// store holds what the hooks of the decorated store share.
type store struct {
	tracer trace.Tracer
}

// traceAppend runs do in an append span, with the span's trace context
// stamped on events.
func (s *store) traceAppend(ctx context.Context, streamID string, events []eventstore.Event, do func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
	ctx, span := s.tracer.Start(ctx, "eventfold.append", trace.WithSpanKind(trace.SpanKindProducer))
	defer span.End()
	res, err := do(ctx, stamp(ctx, events))
	if span.IsRecording() {
		span.SetAttributes(AttrStreamID.String(streamID), AttrEvents.Int(len(events)))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetAttributes(AttrVersion.Int64(res.StreamVersion), AttrPosition.String(res.Position.String()))
		}
	}
	return res, err
}

// stamp returns events with the trace context of ctx in their Extra, or
// events itself when ctx has no valid span context.
func stamp(ctx context.Context, events []eventstore.Event) []eventstore.Event {
	if !trace.SpanContextFromContext(ctx).IsValid() || len(events) == 0 {
		return events
	}
	carrier := propagation.MapCarrier{}
	w3c.Inject(ctx, carrier)
	out := make([]eventstore.Event, len(events))
	for i, e := range events {
		extra := make(map[string]string, len(e.Metadata.Extra)+len(carrier))
		maps.Copy(extra, e.Metadata.Extra)
		delete(extra, TraceStateKey) // a stale state must not pair with the new parent
		maps.Copy(extra, carrier)
		e.Metadata.Extra = extra
		out[i] = e
	}
	return out
}

// traceReadStream gives ReadStream a span when ctx already carries one (a
// command loading its stream).
func (s *store) traceReadStream(ctx context.Context, streamID string, next func(context.Context) ([]eventstore.Record, error)) ([]eventstore.Record, error) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return next(ctx)
	}
	ctx, span := s.tracer.Start(ctx, "eventfold.read_stream")
	defer span.End()
	recs, err := next(ctx)
	if span.IsRecording() {
		span.SetAttributes(AttrStreamID.String(streamID), AttrEvents.Int(len(recs)))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	return recs, err
}
