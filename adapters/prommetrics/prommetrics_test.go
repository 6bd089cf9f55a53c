package prommetrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/prommetrics"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

var _ prommetrics.Relay = (*watermillbus.Relay)(nil)

// value returns the value of the counter or gauge name with exactly the
// given labels (name=value pairs), or fails the test.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	m := find(t, g, name, labels...)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

// histogram returns the sample count and sum of histogram name.
func histogram(t *testing.T, g prometheus.Gatherer, name string, labels ...string) (uint64, float64) {
	t.Helper()
	h := find(t, g, name, labels...).Histogram
	if h == nil {
		t.Fatalf("%s is not a histogram", name)
	}
	return h.GetSampleCount(), h.GetSampleSum()
}

func find(t *testing.T, g prometheus.Gatherer, name string, labels ...string) *dto.Metric {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			if len(m.Label) < len(want) {
				continue
			}
			return m
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return nil
}

func TestStoreCountsAppendsByOutcome(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewPedanticRegistry()
	store, err := prommetrics.Store(memstore.New(nil), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	events := []eventstore.Event{
		{ID: eventstore.NewEventID(), Type: "Opened", Data: []byte(`{}`)},
		{ID: eventstore.NewEventID(), Type: "Deposited", Data: []byte(`{}`)},
	}
	if _, err := store.Append(ctx, "acc-1", eventstore.NoStream, events); err != nil {
		t.Fatal(err)
	}
	if res, err := store.Append(ctx, "acc-1", eventstore.NoStream, events); err != nil || !res.Replayed {
		t.Fatalf("retried Append = %+v, %v; want a replay", res, err)
	}
	if _, err := store.Append(ctx, "acc-1", eventstore.NoStream, []eventstore.Event{{Type: "Opened", Data: []byte(`{}`)}}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("stale Append error = %v, want a conflict", err)
	}
	if _, err := store.Append(ctx, "", eventstore.Any, []eventstore.Event{{Type: "Opened", Data: []byte(`{}`)}}); err == nil {
		t.Fatal("Append to an empty stream ID succeeded")
	}
	if _, err := store.ReadStream(ctx, "acc-1", 1, eventstore.Forward, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ReadAll(ctx, eventstore.Position{}, 10); err != nil {
		t.Fatal(err)
	}

	for _, outcome := range []string{"ok", "replayed", "conflict", "error"} {
		if got := value(t, reg, "eventfold_store_appends_total", "outcome", outcome); got != 1 {
			t.Errorf("appends_total{outcome=%q} = %v, want 1", outcome, got)
		}
		if n, _ := histogram(t, reg, "eventfold_store_append_duration_seconds", "outcome", outcome); n != 1 {
			t.Errorf("append_duration_seconds{outcome=%q} has %d samples, want 1", outcome, n)
		}
	}
	if got := value(t, reg, "eventfold_store_events_appended_total"); got != 2 {
		t.Errorf("events_appended_total = %v, want 2 (replays and failures store nothing)", got)
	}
	for _, read := range []string{"stream", "all"} {
		if n, _ := histogram(t, reg, "eventfold_store_read_duration_seconds", "read", read); n != 1 {
			t.Errorf("read_duration_seconds{read=%q} has %d samples, want 1", read, n)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// bareStore has only the methods of eventstore.Store.
type bareStore struct{ eventstore.Store }

// headStore adds an eventstore.HeadReader.
type headStore struct{ eventstore.Store }

func (headStore) Head(context.Context) (eventstore.Position, error) {
	return eventstore.Position{Commit: 7, Sequence: 9}, nil
}

// keyedStore has a memstore's KeyedAppender and Notifier methods but not
// its Head.
type keyedStore struct {
	eventstore.KeyedAppender
	eventstore.Notifier
}

func newKeyedStore() keyedStore {
	m := memstore.New(nil)
	return keyedStore{m, m}
}

// headOnly adds an eventstore.HeadReader to a struct it is embedded in.
type headOnly struct{}

func (headOnly) Head(context.Context) (eventstore.Position, error) {
	return eventstore.Position{Commit: 7, Sequence: 9}, nil
}

func TestStoreKeepsOptionalInterfaces(t *testing.T) {
	tests := []struct {
		name            string
		inner           eventstore.Store
		wantKeyed, head bool
		notify          bool
	}{
		{"bare", bareStore{memstore.New(nil)}, false, false, false},
		{"keyed notifier", newKeyedStore(), true, false, true},
		{"head", headStore{bareStore{memstore.New(nil)}}, false, true, false},
		{"keyed head", struct {
			keyedStore
			headOnly
		}{newKeyedStore(), headOnly{}}, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := prommetrics.Store(tt.inner, prometheus.NewRegistry(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := eventstore.As[eventstore.KeyedAppender](s); ok != tt.wantKeyed {
				t.Errorf("KeyedAppender = %v, want %v", ok, tt.wantKeyed)
			}
			if h, ok := eventstore.As[eventstore.HeadReader](s); ok != tt.head {
				t.Errorf("HeadReader = %v, want %v", ok, tt.head)
			} else if ok {
				if pos, err := h.Head(t.Context()); err != nil || pos.Sequence != 9 {
					t.Errorf("Head = %v, %v; want the inner store's head", pos, err)
				}
			}
			n, ok := eventstore.As[eventstore.Notifier](s)
			if ok != tt.notify {
				t.Fatalf("Notifier = %v, want %v", ok, tt.notify)
			}
			if !ok {
				return
			}
			changed := n.Changed()
			if _, err := s.Append(t.Context(), "s", eventstore.Any, []eventstore.Event{{Type: "T", Data: []byte(`{}`)}}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-changed:
			case <-time.After(5 * time.Second):
				t.Fatal("Changed was not closed after an append")
			}
		})
	}
}

func TestStoreCountsKeyedAppends(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := prommetrics.Store(memstore.New(nil), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	keyed, err := eventstore.Keyed(s)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := keyed.AppendKeyed(t.Context(), "key-1", "s", eventstore.Any, []eventstore.Event{{Type: "T", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, replayed := value(t, reg, "eventfold_store_appends_total", "outcome", "ok"),
		value(t, reg, "eventfold_store_appends_total", "outcome", "replayed"); ok != 1 || replayed != 1 {
		t.Errorf("after a keyed append and its retry: ok = %v, replayed = %v; want 1 and 1", ok, replayed)
	}
	// Appends of keyed commands through a command handler are counted too.
	outcomes, err := eventstore.Outcomes(s)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := outcomes.AppendCommand(t.Context(), eventstore.CommandKey{Key: "key-2", Hash: "h"}, "s", eventstore.Any,
			[]eventstore.Event{{Type: "T", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, replayed := value(t, reg, "eventfold_store_appends_total", "outcome", "ok"),
		value(t, reg, "eventfold_store_appends_total", "outcome", "replayed"); ok != 2 || replayed != 2 {
		t.Errorf("after a command's append and its retry: ok = %v, replayed = %v; want 2 and 2", ok, replayed)
	}
}

// A tenant's view of the decorated store is counted with the others.
func TestStoreCountsTenantAppends(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := prommetrics.Store(memstore.New(nil), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	acme, err := eventstore.ForTenant(s, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acme.Append(t.Context(), "s", eventstore.Any, []eventstore.Event{{Type: "T", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if ok := value(t, reg, "eventfold_store_appends_total", "outcome", "ok"); ok != 1 {
		t.Errorf("appends through acme's view: %v, want 1", ok)
	}
	if recs, err := s.ReadAll(t.Context(), eventstore.Position{}, 0); err != nil || len(recs) != 0 {
		t.Errorf("the default tenant reads %d events (%v), want none of acme's", len(recs), err)
	}
}

func TestStoreSharesMetricsOfOneRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := prommetrics.Store(memstore.New(nil), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := prommetrics.Store(memstore.New(nil), reg, nil)
	if err != nil {
		t.Fatalf("second Store with the same Registerer: %v", err)
	}
	for _, s := range []eventstore.Store{a, b} {
		if _, err := s.Append(t.Context(), "s", eventstore.Any, []eventstore.Event{{Type: "T", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := value(t, reg, "eventfold_store_appends_total", "outcome", "ok"); got != 2 {
		t.Errorf("appends_total{ok} = %v, want 2 (one counter for both stores)", got)
	}
}

type deposit struct{ Amount int }

var errInsufficientFunds = errors.New("insufficient funds")

func TestCommandsCountsByTypeAndOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	mw, err := prommetrics.Commands(reg, &prommetrics.Options{
		DomainError: func(err error) bool { return errors.Is(err, errInsufficientFunds) },
	})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := []struct {
		res  command.Result
		err  error
		want string
	}{
		{command.Result{Events: 1}, nil, "ok"},
		{command.Result{Replayed: true}, nil, "replayed"},
		{command.Result{}, errInsufficientFunds, "domain_error"},
		{command.Result{}, &eventstore.ConcurrencyError{StreamID: "s"}, "conflict"},
		{command.Result{}, command.ErrInvalidCommand, "invalid"},
		{command.Result{}, errors.New("redis down"), "error"},
	}
	for _, o := range outcomes {
		h := mw(func(ctx context.Context, streamID string, cmd any) (command.Result, error) { return o.res, o.err })
		if _, err := h(t.Context(), "s", deposit{}); err != o.err {
			t.Errorf("middleware returned %v, want %v unchanged", err, o.err)
		}
	}
	for _, o := range outcomes {
		if got := value(t, reg, "eventfold_commands_total", "command", "prommetrics_test.deposit", "outcome", o.want); got != 1 {
			t.Errorf("commands_total{outcome=%q} = %v, want 1", o.want, got)
		}
		if n, _ := histogram(t, reg, "eventfold_command_duration_seconds", "command", "prommetrics_test.deposit", "outcome", o.want); n != 1 {
			t.Errorf("command_duration_seconds{outcome=%q} has %d samples, want 1", o.want, n)
		}
	}
}

func TestCommandsWithoutDomainErrorCountsErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	mw, err := prommetrics.Commands(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := mw(func(context.Context, string, any) (command.Result, error) {
		return command.Result{}, errInsufficientFunds
	})
	h(t.Context(), "s", deposit{}) //nolint:errcheck
	if got := value(t, reg, "eventfold_commands_total", "outcome", "error"); got != 1 {
		t.Errorf("commands_total{outcome=error} = %v, want 1", got)
	}
}

func TestCommandsThroughHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	mw, err := prommetrics.Commands(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	type deposited struct{ Amount int }
	events := command.NewRegistry(nil)
	if err := command.Register[deposited](events, "Deposited", nil); err != nil {
		t.Fatal(err)
	}
	h, err := command.NewHandler(memstore.New(nil), events, command.Decider[int, deposit, any]{
		Evolve: func(s int, e any) int { return s + e.(deposited).Amount },
		Decide: func(c deposit, s int) ([]any, error) {
			if c.Amount <= 0 {
				return nil, errInsufficientFunds
			}
			return []any{deposited(c)}, nil
		},
	}, &command.Options{Middleware: []command.Middleware{mw}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := h.Handle(t.Context(), "acc-1", deposit{Amount: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if got := value(t, reg, "eventfold_commands_total", "command", "prommetrics_test.deposit", "outcome", "ok"); got != 3 {
		t.Errorf("commands_total{ok} = %v, want 3", got)
	}
	// The handler marks the decider's refusal, so no Options.DomainError
	// is needed to count it as a domain error.
	if _, err := h.Handle(t.Context(), "acc-1", deposit{}); !errors.Is(err, errInsufficientFunds) {
		t.Fatalf("Handle = %v, want errInsufficientFunds", err)
	}
	if got := value(t, reg, "eventfold_commands_total", "command", "prommetrics_test.deposit", "outcome", "domain_error"); got != 1 {
		t.Errorf("commands_total{domain_error} = %v, want 1", got)
	}
}

func TestReadModelsCountsOperations(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	rm, err := prommetrics.ReadModels(memstore.NewReadModels(nil), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := readmodel.Namespace{Projection: "p", Version: "1"}
	if _, err := rm.Get(ctx, ns, "doc"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Fatalf("Get of a missing document: %v", err)
	}
	w := readmodel.Write{ID: "doc", Revision: readmodel.Revision{Sequence: 1}, Data: []byte(`{}`)}
	for range 2 { // the second write carries the same revision: stale
		if _, err := rm.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{w}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rm.Get(ctx, ns, "doc"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		op, outcome string
		want        float64
	}{{"get", "not_found", 1}, {"get", "ok", 1}, {"apply", "ok", 2}} {
		if got := value(t, reg, "eventfold_readmodel_operations_total", "op", c.op, "outcome", c.outcome); got != c.want {
			t.Errorf("readmodel_operations_total{op=%q,outcome=%q} = %v, want %v", c.op, c.outcome, got, c.want)
		}
	}
	if got := value(t, reg, "eventfold_readmodel_stale_writes_total"); got != 1 {
		t.Errorf("stale_writes_total = %v, want 1", got)
	}
}

// waitUntil polls cond until it holds or 10 seconds pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProjectionMetrics(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewPedanticRegistry()
	events := memstore.New(nil)
	p := projection.New("balances", "2", nil)
	p.On("Deposited", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		tx.Put(rec.StreamID, rec.Data)
		return nil
	})
	p.On("Poison", func(context.Context, *projection.Tx, eventstore.Record) error {
		return errors.New("cannot apply")
	})
	hooks, err := prommetrics.ProjectionHooks(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	runner, err := projection.NewRunner(projection.Config{
		Projection: p, Source: projection.LogSource(events, nil), Store: memstore.NewReadModels(nil),
		Hooks: hooks, MaxAttempts: 3, Backoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(prommetrics.NewProjectionCollector(runner)); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	res, err := events.Append(ctx, "acc-1", eventstore.Any, []eventstore.Event{
		{Type: "Deposited", Data: []byte(`{"amount":1}`)},
		{Type: "Deposited", Data: []byte(`{"amount":2}`)},
		{Type: "Deposited", Data: []byte(`{"amount":3}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the projection applies the deposits", func() bool {
		st := runner.Status()
		return st.Position == res.Position && st.Active
	})
	labels := []string{"projection", "balances", "version", "2", "tenant", "", "partition", "0"}
	if got := value(t, reg, "eventfold_projection_position_sequence", labels...); got != float64(res.Position.Sequence) {
		t.Errorf("position_sequence = %v, want %d", got, res.Position.Sequence)
	}
	if got := value(t, reg, "eventfold_projection_active", labels...); got != 1 {
		t.Errorf("active = %v, want 1", got)
	}
	if got := value(t, reg, "eventfold_projection_faulted", labels...); got != 0 {
		t.Errorf("faulted = %v before any failure, want 0", got)
	}
	if n, sum := histogram(t, reg, "eventfold_projection_batch_events", labels...); n == 0 || sum != 3 {
		t.Errorf("batch_events: %d batches summing to %v events, want the 3 deposits", n, sum)
	}
	if n, _ := histogram(t, reg, "eventfold_projection_batch_duration_seconds", labels...); n == 0 {
		t.Error("batch_duration_seconds has no samples")
	}

	if _, err := events.Append(ctx, "acc-1", eventstore.Any, []eventstore.Event{{Type: "Poison", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the projection faults", func() bool { return runner.Status().Fault != nil })
	if got := value(t, reg, "eventfold_projection_faulted", labels...); got != 1 {
		t.Errorf("faulted = %v after the poison event, want 1", got)
	}
	if got := value(t, reg, "eventfold_projection_state", append(labels, "state", "faulted")...); got != 1 {
		t.Errorf("state{state=faulted} = %v, want 1", got)
	}
	if got := value(t, reg, "eventfold_projection_state", append(labels, "state", "running")...); got != 0 {
		t.Errorf("state{state=running} = %v while faulted, want 0", got)
	}
	// MaxAttempts 3: the first failure and two retries, then the fault.
	if got := value(t, reg, "eventfold_projection_retries_total", append(labels, "stage", "handler")...); got != 2 {
		t.Errorf("retries_total{stage=handler} = %v, want 2", got)
	}
	if err := runner.Skip(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the fault is cleared", func() bool { return runner.Status().Fault == nil })
	if got := value(t, reg, "eventfold_projection_faulted", labels...); got != 0 {
		t.Errorf("faulted = %v after Skip, want 0", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// downStore is a read-model store that is unreachable while down is set.
type downStore struct {
	readmodel.Store
	down atomic.Bool
}

func (d *downStore) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	if d.down.Load() {
		return readmodel.Result{}, errors.New("dial tcp 127.0.0.1:6379: connection refused")
	}
	return d.Store.Apply(ctx, ns, b)
}

// An unreachable read-model store is not a fault: faulted stays 0 while
// the state and unavailable_seconds show the outage.
func TestProjectionMetricsOfAStoreOutage(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewPedanticRegistry()
	events := memstore.New(nil)
	p := projection.New("balances", "2", nil)
	p.On("Deposited", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		tx.Put(rec.StreamID, rec.Data)
		return nil
	})
	store := &downStore{Store: memstore.NewReadModels(nil)}
	runner, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(events, nil), Store: store,
		Backoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(prommetrics.NewProjectionCollector(runner)); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	waitUntil(t, "the runner is active", func() bool { return runner.Status().Active })

	store.down.Store(true)
	if _, err := events.Append(ctx, "acc-1", eventstore.Any, []eventstore.Event{{Type: "Deposited", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	labels := []string{"projection", "balances", "version", "2", "tenant", "", "partition", "0"}
	time.Sleep(1500 * time.Millisecond)
	if got := value(t, reg, "eventfold_projection_faulted", labels...); got != 0 {
		t.Errorf("faulted = %v during a store outage, want 0", got)
	}
	if got := value(t, reg, "eventfold_projection_state", append(labels, "state", "store unavailable")...); got != 1 {
		t.Errorf("state{state=store unavailable} = %v during a store outage, want 1", got)
	}
	if got := value(t, reg, "eventfold_projection_unavailable_seconds", labels...); got < 1 {
		t.Errorf("unavailable_seconds = %v 1.5 s into a store outage, want at least 1", got)
	}
	store.down.Store(false)
	waitUntil(t, "the runner resumes", func() bool { return runner.Status().LagEvents == 0 && runner.Status().LastError == "" })
	if got := value(t, reg, "eventfold_projection_unavailable_seconds", labels...); got != 0 {
		t.Errorf("unavailable_seconds = %v after the outage, want 0", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

type fakeRelay struct {
	active bool
	pos    eventstore.Position
}

func (r *fakeRelay) Active() (bool, eventstore.Position) { return r.active, r.pos }

func TestRelayCollector(t *testing.T) {
	relay := &fakeRelay{}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(prommetrics.NewRelayCollector("relay", relay)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(prommetrics.NewRelayCollector("audit", &fakeRelay{active: true})); err != nil {
		t.Fatalf("a second relay with another name: %v", err)
	}
	want := `
# HELP eventfold_relay_active 1 while this relay holds its lease and forwards the log.
# TYPE eventfold_relay_active gauge
eventfold_relay_active{relay="audit"} 1
eventfold_relay_active{relay="relay"} %d
# HELP eventfold_relay_position_sequence Sequence of the last position this relay published.
# TYPE eventfold_relay_position_sequence gauge
eventfold_relay_position_sequence{relay="audit"} 0
eventfold_relay_position_sequence{relay="relay"} %d
`
	check := func(active, seq int) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(want, active, seq))); err != nil {
			t.Error(err)
		}
	}
	check(0, 0)
	relay.active, relay.pos = true, eventstore.Position{Commit: 3, Sequence: 42}
	check(1, 42)
}

type fakeHeldBack struct {
	events int64
	since  time.Time
	err    error
}

func (f *fakeHeldBack) HeldBackEvents(context.Context) (int64, time.Time, error) {
	return f.events, f.since, f.err
}

func TestHeldBackCollector(t *testing.T) {
	src := &fakeHeldBack{}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(prommetrics.NewHeldBackCollector(src)); err != nil {
		t.Fatal(err)
	}
	gauges := func() map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
		}
		return got
	}
	if got := gauges(); got["eventfold_log_held_back_up"] != 1 || got["eventfold_log_held_back_events"] != 0 || got["eventfold_log_held_back_seconds"] != 0 {
		t.Errorf("nothing held back: %v", got)
	}
	src.events, src.since = 7, time.Now().Add(-90*time.Second)
	if got := gauges(); got["eventfold_log_held_back_events"] != 7 || got["eventfold_log_held_back_seconds"] < 90 || got["eventfold_log_held_back_seconds"] > 120 {
		t.Errorf("7 events behind a transaction open for 90 s: %v", got)
	}
	src.err = errors.New("connection refused")
	if got := gauges(); got["eventfold_log_held_back_up"] != 0 || len(got) != 1 {
		t.Errorf("store unreachable: %v, want only eventfold_log_held_back_up 0", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestReadModelsKeepCapabilities checks that metering a read-model store
// keeps what it can do beyond readmodel.Store: a spread store still tells
// its partitions.
func TestReadModelsKeepCapabilities(t *testing.T) {
	spread, err := readmodel.NewPartitioned(memstore.NewReadModels(nil), 3)
	if err != nil {
		t.Fatal(err)
	}
	metered, err := prommetrics.ReadModels(spread, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := readmodel.As[readmodel.Partitioner](metered)
	if !ok || p.Partitions() != 3 {
		t.Fatalf("the metered spread store's Partitioner = %v, %v; want the inner store's 3 partitions", p, ok)
	}
}
