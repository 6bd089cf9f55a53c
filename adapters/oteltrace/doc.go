// Package oteltrace traces eventfold with OpenTelemetry
// (go.opentelemetry.io/otel): one trace follows a command through its
// append, across a Watermill broker and into the projections that apply its
// events.
//
// Each piece is wired by the application, with a trace.TracerProvider it
// owns (the package never reads otel's global provider):
//
//   - [Commands] is a command.Middleware: one span per command.
//   - [Store] decorates an eventstore.Store: one span per append, and the
//     W3C trace context of the append (the "traceparent" and "tracestate"
//     entries of [TraceParentKey] and [TraceStateKey]) stamped into every
//     appended event's Metadata.Extra. It is stored with the event, and
//     adapters/watermillbus carries Extra entries as message metadata, so
//     the context reaches every consumer of the event, in this process or
//     another.
//   - [On] and [Handle] register projection handlers that run in a span
//     whose parent is the trace context stored with the event; [Extract]
//     does the same for any other consumer, such as an event handler that
//     sends a command in reaction.
//
// A traced flow is one trace: command span, append span as its child,
// and one apply span per projection and event as a child of the append
// span, however long after the append and in whichever process the event
// is applied.
//
// Tracing is off unless wired: nothing here runs unless the application
// wraps its middleware, store or handlers. With a no-op TracerProvider, or
// when a context carries no valid span, Store passes the caller's events
// through untouched, allocating no metadata.
//
// A typical wiring:
//
//	store, err := oteltrace.Store(pgStore, tp)
//	h, err := command.NewHandler(store, reg, decider, &command.Options{
//		Middleware: []command.Middleware{oteltrace.Commands(tp, nil)},
//	})
//	p := projection.New("balances", "1", reg)
//	oteltrace.Handle(p, applyDeposit, tp)
package oteltrace
