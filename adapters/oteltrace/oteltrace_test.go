package oteltrace_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/oteltrace"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

type deposit struct{ Amount int }

type deposited struct{ Amount int }

var errNoFunds = errors.New("no funds")

func newProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

func newHandler(t *testing.T, store eventstore.Store, tp trace.TracerProvider) *command.Handler[int, deposit, any] {
	t.Helper()
	events := command.NewRegistry(nil)
	if err := command.Register[deposited](events, "Deposited", nil); err != nil {
		t.Fatal(err)
	}
	h, err := command.NewHandler(store, events, command.Decider[int, deposit, any]{
		Evolve: func(s int, e any) int { return s + e.(deposited).Amount },
		Decide: func(c deposit, s int) ([]any, error) {
			if s+c.Amount < 0 {
				return nil, errNoFunds
			}
			return []any{deposited(c)}, nil
		},
	}, &command.Options{Middleware: []command.Middleware{oteltrace.Commands(tp, &oteltrace.Options{
		DomainError: func(err error) bool { return errors.Is(err, errNoFunds) },
	})}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// balances is a projection whose Deposited handler is traced.
func balances(tp trace.TracerProvider) *projection.Projection {
	events := command.NewRegistry(nil)
	if err := command.Register[deposited](events, "Deposited", nil); err != nil {
		panic(err)
	}
	p := projection.New("balances", "1", events)
	oteltrace.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e deposited) error {
		tx.Put(rec.StreamID, rec.Data)
		return nil
	}, tp)
	return p
}

// run runs a Runner of p over src until the test ends.
func run(t *testing.T, p *projection.Projection, src projection.Source) *projection.Runner {
	t.Helper()
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: src, Store: memstore.NewReadModels(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return r
}

func waitApplied(t *testing.T, r *projection.Runner, pos eventstore.Position) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.Status().Position != pos {
		if time.Now().After(deadline) {
			t.Fatalf("projection did not reach %v: %+v", pos, r.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// span returns the one ended span named name.
func span(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		var names []string
		for _, s := range rec.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("%d spans named %q, want 1; spans: %q", len(found), name, names)
	}
	return found[0]
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func wantChild(t *testing.T, child, parent sdktrace.ReadOnlySpan) {
	t.Helper()
	if child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("%s is in trace %s, %s in %s; want one trace", child.Name(), child.SpanContext().TraceID(), parent.Name(), parent.SpanContext().TraceID())
	}
	if child.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("parent of %s is %s, want %s (%s)", child.Name(), child.Parent().SpanID(), parent.Name(), parent.SpanContext().SpanID())
	}
}

func TestOneTraceFromCommandToProjection(t *testing.T) {
	tp, rec := newProvider(t)
	store, err := oteltrace.Store(memstore.New(nil), tp)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, balances(tp), projection.LogSource(store, nil))
	res, err := newHandler(t, store, tp).Handle(t.Context(), "acc-1", deposit{Amount: 5})
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, r, res.Position)

	cmd := span(t, rec, "oteltrace_test.deposit")
	appendSpan := span(t, rec, "eventfold.append")
	load := span(t, rec, "eventfold.read_stream")
	apply := span(t, rec, "eventfold.apply Deposited")
	if cmd.Parent().IsValid() {
		t.Errorf("the command span has a parent, %v", cmd.Parent())
	}
	wantChild(t, load, cmd)
	wantChild(t, appendSpan, cmd)
	wantChild(t, apply, appendSpan)
	if !apply.Parent().IsRemote() {
		t.Error("the apply span's parent is not remote; it should come from the stored event")
	}
	for s, want := range map[sdktrace.ReadOnlySpan]map[string]string{
		cmd:        {"eventfold.stream_id": "acc-1", "eventfold.outcome": "ok"},
		appendSpan: {"eventfold.stream_id": "acc-1", "eventfold.events": "1"},
		apply:      {"eventfold.projection": "balances", "eventfold.event_type": "Deposited", "eventfold.position": res.Position.String()},
	} {
		for k, v := range want {
			if got := attr(s, k); got != v {
				t.Errorf("%s: %s = %q, want %q", s.Name(), k, got, v)
			}
		}
	}
	if apply.SpanKind() != trace.SpanKindConsumer || appendSpan.SpanKind() != trace.SpanKindProducer {
		t.Errorf("kinds: append %v, apply %v; want producer and consumer", appendSpan.SpanKind(), apply.SpanKind())
	}
}

func TestTraceCrossesWatermill(t *testing.T) {
	ctx := t.Context()
	tp, rec := newProvider(t)
	inner := memstore.New(nil)
	store, err := oteltrace.Store(inner, tp)
	if err != nil {
		t.Fatal(err)
	}
	root, parent := tp.Tracer("test").Start(ctx, "request")
	res, err := store.Append(root, "acc-1", eventstore.NoStream, []eventstore.Event{{Type: "Deposited", Data: []byte(`{"Amount":5}`)}})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := inner.ReadAll(ctx, eventstore.Position{}, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("ReadAll: %v, %v", recs, err)
	}
	msg := watermillbus.NewMessage(recs[0], eventstore.Position{})
	if msg.Metadata.Get(oteltrace.TraceParentKey) == "" {
		t.Fatalf("message metadata has no trace parent: %v", msg.Metadata)
	}

	pubsub := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, watermill.NopLogger{})
	t.Cleanup(func() { _ = pubsub.Close() })
	if err := pubsub.Publish("events", msg); err != nil {
		t.Fatal(err)
	}
	p := projection.New("balances", "1", nil)
	oteltrace.On(p, "Deposited", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return errors.New("handler context has no span")
		}
		tx.Put(rec.StreamID, rec.Data)
		return nil
	}, tp)
	waitApplied(t, run(t, p, watermillbus.NewSource(pubsub, "events", nil)), res.Position)

	appendSpan := span(t, rec, "eventfold.append")
	wantChild(t, appendSpan, span(t, rec, "request"))
	wantChild(t, span(t, rec, "eventfold.apply Deposited"), appendSpan)
}

func TestMessageRoundTripKeepsTraceContext(t *testing.T) {
	tp, _ := newProvider(t)
	store, err := oteltrace.Store(memstore.New(nil), tp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, s := tp.Tracer("test").Start(t.Context(), "request")
	defer s.End()
	if _, err := store.Append(ctx, "acc-1", eventstore.Any, []eventstore.Event{{Type: "Deposited", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	recs, err := store.ReadAll(ctx, eventstore.Position{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := watermillbus.Record(watermillbus.NewMessage(recs[0], eventstore.Position{}))
	if err != nil {
		t.Fatal(err)
	}
	got := trace.SpanContextFromContext(oteltrace.Extract(context.Background(), back))
	if !got.IsValid() || got.TraceID() != s.SpanContext().TraceID() {
		t.Errorf("extracted %v from the decoded message, want a span of trace %s", got, s.SpanContext().TraceID())
	}
}

func TestNoopProviderInjectsNothing(t *testing.T) {
	for name, tp := range map[string]trace.TracerProvider{"noop": noop.NewTracerProvider(), "nil": nil} {
		t.Run(name, func(t *testing.T) {
			inner := memstore.New(nil)
			store, err := oteltrace.Store(inner, tp)
			if err != nil {
				t.Fatal(err)
			}
			h := newHandler(t, store, tp)
			if _, err := h.Handle(t.Context(), "acc-1", deposit{Amount: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Append(t.Context(), "acc-2", eventstore.Any, []eventstore.Event{{Type: "Deposited", Data: []byte(`{}`)}}); err != nil {
				t.Fatal(err)
			}
			recs, err := inner.ReadAll(t.Context(), eventstore.Position{}, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if _, ok := r.Metadata.Extra[oteltrace.TraceParentKey]; ok {
					t.Errorf("%s: %s recorded a trace parent: %v", r.StreamID, name, r.Metadata.Extra)
				}
			}
			if extra := recs[1].Metadata.Extra; extra != nil {
				t.Errorf("plain append got metadata %v, want none", extra)
			}
		})
	}
}

func TestAppendDoesNotModifyCallersEvents(t *testing.T) {
	tp, _ := newProvider(t)
	inner := memstore.New(nil)
	store, err := oteltrace.Store(inner, tp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, s := tp.Tracer("test").Start(t.Context(), "request")
	defer s.End()
	extra := map[string]string{"user": "ada", oteltrace.TraceStateKey: "stale=1"}
	events := []eventstore.Event{{Type: "A", Data: []byte(`{}`), Metadata: eventstore.Metadata{Extra: extra}}, {Type: "B", Data: []byte(`{}`)}}
	if _, err := store.Append(ctx, "s-1", eventstore.Any, events); err != nil {
		t.Fatal(err)
	}
	if len(extra) != 2 || events[1].Metadata.Extra != nil {
		t.Errorf("caller's events changed: %v, %v", extra, events[1].Metadata.Extra)
	}
	recs, err := inner.ReadAll(t.Context(), eventstore.Position{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Metadata.Extra[oteltrace.TraceParentKey] == "" {
			t.Errorf("%s: no trace parent in %v", r.Type, r.Metadata.Extra)
		}
		if _, ok := r.Metadata.Extra[oteltrace.TraceStateKey]; ok {
			t.Errorf("%s: trace state %q kept, want it dropped with the old parent", r.Type, r.Metadata.Extra[oteltrace.TraceStateKey])
		}
	}
	if recs[0].Metadata.Extra["user"] != "ada" {
		t.Errorf("the caller's own entries were lost: %v", recs[0].Metadata.Extra)
	}
}

func TestCommandOutcomes(t *testing.T) {
	tp, rec := newProvider(t)
	h := newHandler(t, memstore.New(nil), tp)
	if _, err := h.Handle(t.Context(), "acc-1", deposit{Amount: -1}); !errors.Is(err, errNoFunds) {
		t.Fatalf("Handle: %v, want the domain error", err)
	}
	s := span(t, rec, "oteltrace_test.deposit")
	if got := attr(s, "eventfold.outcome"); got != oteltrace.OutcomeDomainError {
		t.Errorf("outcome = %q, want %q", got, oteltrace.OutcomeDomainError)
	}
	if len(s.Events()) != 1 || s.Events()[0].Name != "exception" {
		t.Errorf("span events %v, want the recorded error", s.Events())
	}
	if s.Status().Code.String() != "Unset" {
		t.Errorf("status %v; a domain error should leave it unset", s.Status())
	}
}

func TestStoreKeepsOptionalInterfaces(t *testing.T) {
	s, err := oteltrace.Store(memstore.New(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eventstore.Keyed(s); err != nil {
		t.Error(err)
	}
	if _, err := eventstore.Outcomes(s); err != nil {
		t.Error(err)
	}
	if _, ok := eventstore.As[eventstore.Notifier](s); !ok {
		t.Error("the traced memstore has no Notifier")
	}
	if _, err := oteltrace.Store(nil, nil); err == nil {
		t.Error("Store(nil) did not fail")
	}
}
