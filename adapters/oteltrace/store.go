package oteltrace

import (
	"context"
	"errors"
	"maps"
	"sync"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Keys of the trace context in eventstore.Metadata.Extra, as defined by the
// W3C Trace Context recommendation. Over Watermill they travel as the
// message metadata "eventfold_x_traceparent" and "eventfold_x_tracestate".
const (
	TraceParentKey = "traceparent"
	TraceStateKey  = "tracestate"
)

// w3c reads and writes TraceParentKey and TraceStateKey.
var w3c propagation.TraceContext

// Store returns inner decorated with tracing from tracer provider tp. Each
// Append (and AppendKeyed) runs in a producer span named
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
// The result implements the optional interfaces inner does that other
// packages look for: eventstore.KeyedAppender and projection.HeadReader.
// It always implements projection.Notifier: through inner's Changed when
// inner has one, otherwise by waking tailers after each append made through
// the decorator. A nil tp traces nothing.
func Store(inner eventstore.Store, tp trace.TracerProvider) (eventstore.Store, error) {
	if inner == nil {
		return nil, errors.New("oteltrace: Store needs an event store")
	}
	s := &store{inner: inner, tracer: tracer(tp)}
	s.notifier, _ = inner.(projection.Notifier)
	keyed, isKeyed := inner.(eventstore.KeyedAppender)
	head, hasHead := inner.(projection.HeadReader)
	switch {
	case isKeyed && hasHead:
		return &keyedHeadStore{keyedStore{s, keyed}, head}, nil
	case isKeyed:
		return &keyedStore{s, keyed}, nil
	case hasHead:
		return &headStore{s, head}, nil
	}
	return s, nil
}

// store is the decorator for a store with no optional interfaces.
type store struct {
	inner    eventstore.Store
	tracer   trace.Tracer
	notifier projection.Notifier // inner's, or nil

	mu      sync.Mutex
	changed chan struct{} // used when notifier is nil
}

var (
	_ projection.Notifier      = (*store)(nil)
	_ eventstore.KeyedAppender = (*keyedStore)(nil)
	_ projection.HeadReader    = (*headStore)(nil)
	_ eventstore.KeyedAppender = (*keyedHeadStore)(nil)
	_ projection.HeadReader    = (*keyedHeadStore)(nil)
)

type appendFunc func(ctx context.Context, events []eventstore.Event) (eventstore.AppendResult, error)

// traceAppend runs do in an append span, with the span's trace context
// stamped on events.
func (s *store) traceAppend(ctx context.Context, streamID string, events []eventstore.Event, do appendFunc) (eventstore.AppendResult, error) {
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
	s.wake(err)
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

func (s *store) Append(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	return s.traceAppend(ctx, streamID, events, func(ctx context.Context, events []eventstore.Event) (eventstore.AppendResult, error) {
		return s.inner.Append(ctx, streamID, expected, events)
	})
}

func (s *store) ReadStream(ctx context.Context, streamID string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return s.inner.ReadStream(ctx, streamID, from, dir, limit)
	}
	ctx, span := s.tracer.Start(ctx, "eventfold.read_stream")
	defer span.End()
	recs, err := s.inner.ReadStream(ctx, streamID, from, dir, limit)
	if span.IsRecording() {
		span.SetAttributes(AttrStreamID.String(streamID), AttrEvents.Int(len(recs)))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	return recs, err
}

func (s *store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	return s.inner.ReadAll(ctx, after, limit)
}

// Changed implements projection.Notifier.
func (s *store) Changed() <-chan struct{} {
	if s.notifier != nil {
		return s.notifier.Changed()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// wake closes the channel Changed handed out, after a successful append,
// when inner cannot notify by itself.
func (s *store) wake(err error) {
	if err != nil || s.notifier != nil {
		return
	}
	s.mu.Lock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
}

type keyedStore struct {
	*store
	keyed eventstore.KeyedAppender
}

func (s *keyedStore) AppendKeyed(ctx context.Context, commandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	return s.traceAppend(ctx, streamID, events, func(ctx context.Context, events []eventstore.Event) (eventstore.AppendResult, error) {
		return s.keyed.AppendKeyed(ctx, commandKey, streamID, expected, events)
	})
}

type headStore struct {
	*store
	head projection.HeadReader
}

func (s *headStore) Head(ctx context.Context) (eventstore.Position, error) { return s.head.Head(ctx) }

type keyedHeadStore struct {
	keyedStore
	head projection.HeadReader
}

func (s *keyedHeadStore) Head(ctx context.Context) (eventstore.Position, error) {
	return s.head.Head(ctx)
}
