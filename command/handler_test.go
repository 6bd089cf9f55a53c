package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/google/go-cmp/cmp"
)

func newHandler(t *testing.T, store eventstore.Store, opts *command.Options) *command.Handler[Account, AccountCommand, AccountEvent] {
	t.Helper()
	h, err := command.NewHandler(store, newRegistry(), account, opts)
	if err != nil {
		t.Fatalf("NewHandler = %v", err)
	}
	return h
}

func handle(t *testing.T, h *command.Handler[Account, AccountCommand, AccountEvent], stream string, cmd AccountCommand) command.Result {
	t.Helper()
	res, err := h.Handle(t.Context(), stream, cmd)
	if err != nil {
		t.Fatalf("Handle(%q, %#v) = %v", stream, cmd, err)
	}
	return res
}

func readStream(t *testing.T, store eventstore.Store, stream string) []eventstore.Record {
	t.Helper()
	recs, err := store.ReadStream(t.Context(), stream, 1, eventstore.Forward, 0)
	if err != nil {
		t.Fatalf("ReadStream(%q) = %v", stream, err)
	}
	return recs
}

func TestNewHandlerRejectsMissingParts(t *testing.T) {
	_, err := command.NewHandler(nil, nil, command.Decider[Account, AccountCommand, AccountEvent]{}, &command.Options{Snapshots: &command.Snapshots{}})
	if err == nil {
		t.Fatal("NewHandler with nothing set = nil error")
	}
	for _, want := range []string{"store is nil", "registry is nil", "Evolve is nil", "Decide is nil", "Snapshots.Store is nil"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("NewHandler error %q does not mention %q", err, want)
		}
	}
}

func TestHandleAppendsWithMetadata(t *testing.T) {
	store := memstore.New(nil)
	h := newHandler(t, store, nil)
	ctx := command.WithCorrelationID(t.Context(), "request-7")
	ctx = command.WithCommandID(ctx, "cmd-1")
	res, err := h.Handle(ctx, "acc-1", Open{Owner: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	recs := readStream(t, store, "acc-1")
	if len(recs) != 1 {
		t.Fatalf("stream has %d events, want 1", len(recs))
	}
	want := command.Result{StreamVersion: 1, Position: recs[0].Position, Events: 1}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Handle result mismatch (-want +got):\n%s", diff)
	}
	wantMeta := eventstore.Metadata{CorrelationID: "request-7", CausationID: "cmd-1", Extra: map[string]string{command.SchemaKey: "1"}}
	if diff := cmp.Diff(wantMeta, recs[0].Metadata); diff != "" {
		t.Errorf("event metadata mismatch (-want +got):\n%s", diff)
	}
	if recs[0].Type != "AccountOpened" || string(recs[0].Data) != `{"Owner":"ada"}` {
		t.Errorf("stored event = %s %s, want AccountOpened {\"Owner\":\"ada\"}", recs[0].Type, recs[0].Data)
	}
}

func TestHandleStartsCorrelationWithCommandID(t *testing.T) {
	store := memstore.New(nil)
	var seen []string
	spy := func(next command.HandleFunc) command.HandleFunc {
		return func(ctx context.Context, streamID string, cmd any) (command.Result, error) {
			seen = append(seen, command.CommandID(ctx), command.CorrelationID(ctx))
			return next(ctx, streamID, cmd)
		}
	}
	h := newHandler(t, store, &command.Options{Middleware: []command.Middleware{spy}})
	handle(t, h, "acc-1", Open{Owner: "ada"})
	handle(t, h, "acc-1", Deposit{Amount: 5})
	recs := readStream(t, store, "acc-1")
	for i, r := range recs {
		if r.Metadata.CausationID == "" || r.Metadata.CorrelationID != r.Metadata.CausationID {
			t.Errorf("event %d metadata = %+v, want correlation ID = causation ID = a new command ID", i, r.Metadata)
		}
		if seen[2*i] != r.Metadata.CausationID || seen[2*i+1] != r.Metadata.CorrelationID {
			t.Errorf("middleware saw IDs %q, events carry %q/%q", seen[2*i:2*i+2], r.Metadata.CausationID, r.Metadata.CorrelationID)
		}
	}
	if recs[0].Metadata.CausationID == recs[1].Metadata.CausationID {
		t.Errorf("two commands got the same command ID %q", recs[0].Metadata.CausationID)
	}
}

func TestDomainErrorAppendsNothing(t *testing.T) {
	store := memstore.New(nil)
	h := newHandler(t, store, nil)
	res := handle(t, h, "acc-1", Open{Owner: "ada"})

	_, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 10})
	// Marked as a refusal, with the decider's error and wording intact.
	if !errors.Is(err, command.ErrRejected) || !errors.Is(err, ErrInsufficientFunds) || err.Error() != ErrInsufficientFunds.Error() {
		t.Errorf("Handle(Withdraw) = %v, want ErrRejected wrapping ErrInsufficientFunds with its message", err)
	}
	var rejected *command.RejectedError
	if !errors.As(err, &rejected) || rejected.Err != ErrInsufficientFunds {
		t.Errorf("Handle(Withdraw) = %#v, want a *RejectedError holding ErrInsufficientFunds", err)
	}
	_, err = h.Handle(t.Context(), "acc-2", Deposit{Amount: 1})
	if !errors.Is(err, command.ErrRejected) || !errors.Is(err, ErrNotOpen) {
		t.Errorf("Handle(Deposit) on a new stream = %v, want ErrRejected wrapping ErrNotOpen", err)
	}
	if recs := readStream(t, store, "acc-1"); len(recs) != 1 {
		t.Errorf("stream has %d events after a domain error, want 1", len(recs))
	}
	if _, err := store.ReadStream(t.Context(), "acc-2", 1, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("ReadStream(acc-2) = %v, want ErrStreamNotFound", err)
	}
	all, err := store.ReadAll(t.Context(), res.Position, 0)
	if err != nil || len(all) != 0 {
		t.Errorf("ReadAll after the first command = %d events, %v; want none", len(all), err)
	}
}

func TestNoEventsAppendsNothing(t *testing.T) {
	store := memstore.New(nil)
	noop := account
	noop.Decide = func(AccountCommand, Account) ([]AccountEvent, error) { return nil, nil }
	h, err := command.NewHandler(store, newRegistry(), noop, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Handle(t.Context(), "acc-1", Open{})
	if err != nil || res != (command.Result{}) {
		t.Errorf("Handle = %+v, %v; want a zero result and no error", res, err)
	}
	if _, err := store.ReadStream(t.Context(), "acc-1", 1, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("ReadStream = %v, want ErrStreamNotFound", err)
	}
}

// TestHotStream runs many writers on one stream from several Handlers, as
// several processes would: every command must succeed through retries, and
// no update may be lost.
func TestHotStream(t *testing.T) {
	const handlers, writersPerHandler, increments = 4, 4, 50
	const commands = handlers * writersPerHandler * increments
	store := memstore.New(nil)
	var retries retryCounter
	hs := make([]*command.Handler[Account, AccountCommand, AccountEvent], handlers)
	for i := range hs {
		// Default retry policy. Snapshots keep each load short; the retries
		// are what is under test.
		hs[i] = newHandler(t, store, &command.Options{
			Snapshots: &command.Snapshots{Store: memstore.NewSnapshots(nil), Policy: command.EveryN(20)},
			Logger:    slog.New(&retries),
		})
	}
	handle(t, hs[0], "hot", Open{Owner: "everyone"})
	var wg sync.WaitGroup
	errs := make(chan error, commands)
	for _, h := range hs {
		for range writersPerHandler {
			wg.Go(func() {
				for range increments {
					if _, err := h.Handle(t.Context(), "hot", Deposit{Amount: 1}); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Handle = %v", err)
	}
	state, version, err := hs[0].Load(t.Context(), "hot")
	if err != nil {
		t.Fatal(err)
	}
	if state.Balance != commands || version != commands+1 {
		t.Errorf("after %d increments: balance %d at version %d, want balance %d at version %d", commands, state.Balance, version, commands, commands+1)
	}
	t.Logf("%d retries for %d commands", retries.n.Load(), commands)
}

// TestOneHandlerQueuesCommandsPerStream: writers sharing one Handler take
// turns on a stream instead of racing each other, so none of them ever
// conflicts or retries.
func TestOneHandlerQueuesCommandsPerStream(t *testing.T) {
	const writers, increments = 16, 50
	store := memstore.New(nil)
	var retries retryCounter
	h := newHandler(t, store, &command.Options{
		Snapshots: &command.Snapshots{Store: memstore.NewSnapshots(nil), Policy: command.EveryN(20)},
		Logger:    slog.New(&retries),
	})
	handle(t, h, "hot", Open{Owner: "everyone"})
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range increments {
				if _, err := h.Handle(t.Context(), "hot", Deposit{Amount: 1}); err != nil {
					t.Errorf("Handle = %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := retries.n.Load(); n != 0 {
		t.Errorf("%d retries, want none: commands of one Handler must not race on a stream", n)
	}
	if state, _, err := h.Load(t.Context(), "hot"); err != nil || state.Balance != writers*increments {
		t.Errorf("Load = balance %d, %v; want %d", state.Balance, err, writers*increments)
	}
}

// gateStore holds every Append to one stream until gate is closed.
type gateStore struct {
	eventstore.Store
	stream  string
	entered chan struct{}
	gate    chan struct{}
}

func (s *gateStore) Append(ctx context.Context, id string, ev eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	if id == s.stream {
		s.entered <- struct{}{}
		<-s.gate
	}
	return s.Store.Append(ctx, id, ev, events)
}

// TestQueuedCommandStopsWhenContextEnds: a command waiting for its turn on
// a busy stream gives up when its context ends, while commands for other
// streams go ahead.
func TestQueuedCommandStopsWhenContextEnds(t *testing.T) {
	store := &gateStore{Store: memstore.New(nil), stream: "busy", entered: make(chan struct{}, 4), gate: make(chan struct{})}
	h := newHandler(t, store, nil)
	first := make(chan error, 1)
	go func() {
		_, err := h.Handle(t.Context(), "busy", Open{Owner: "ada"})
		first <- err
	}()
	<-store.entered // the first command holds the stream's turn

	// Another stream is not held up.
	handle(t, h, "other", Open{Owner: "bob"})

	ctx, cancel := context.WithCancel(t.Context())
	queued := make(chan error, 1)
	go func() {
		_, err := h.Handle(ctx, "busy", Open{Owner: "cy"})
		queued <- err
	}()
	select {
	case <-store.entered:
		t.Error("a second command on the stream reached the store while the first held its turn")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Errorf("queued Handle = %v, want context.Canceled", err)
	}
	close(store.gate)
	if err := <-first; err != nil {
		t.Errorf("first Handle = %v", err)
	}
	// The stream's turn was handed back: a later command runs.
	if _, err := h.Handle(t.Context(), "busy", Deposit{Amount: 5}); err != nil {
		t.Errorf("Handle after the queue emptied = %v", err)
	}
	if recs := readStream(t, store, "busy"); len(recs) != 2 {
		t.Errorf("stream holds %d events, want 2 (the cancelled command appended nothing)", len(recs))
	}
}

// retryCounter is a slog.Handler that counts the Handler's retry warnings.
type retryCounter struct{ n atomic.Int64 }

func (c *retryCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *retryCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && r.Message == "command: concurrency conflict, retrying" {
		c.n.Add(1)
	}
	return nil
}
func (c *retryCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *retryCounter) WithGroup(string) slog.Handler      { return c }

// conflictStore fails every append with a concurrency conflict.
type conflictStore struct {
	eventstore.Store
	appends atomic.Int32
}

func (s *conflictStore) Append(ctx context.Context, id string, ev eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	s.appends.Add(1)
	return eventstore.AppendResult{}, &eventstore.ConcurrencyError{StreamID: id, Expected: ev, Actual: 99}
}

func TestRetriesAreBounded(t *testing.T) {
	store := &conflictStore{Store: memstore.New(nil)}
	var logs bytes.Buffer
	h := newHandler(t, store, &command.Options{
		Retry:  command.RetryPolicy{MaxAttempts: 4, InitialDelay: time.Microsecond},
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	_, err := h.Handle(t.Context(), "acc-1", Open{Owner: "ada"})
	var ce *eventstore.ConcurrencyError
	if !errors.Is(err, eventstore.ErrConcurrency) || !errors.As(err, &ce) {
		t.Errorf("Handle = %v, want an error matching ErrConcurrency that wraps the *ConcurrencyError", err)
	}
	if n := store.appends.Load(); n != 4 {
		t.Errorf("store saw %d appends, want 4 (MaxAttempts)", n)
	}
	if n := bytes.Count(logs.Bytes(), []byte(`"level":"WARN"`)); n != 3 {
		t.Errorf("logged %d retry warnings, want 3:\n%s", n, logs.String())
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	store := &conflictStore{Store: memstore.New(nil)}
	h := newHandler(t, store, &command.Options{Retry: command.RetryPolicy{MaxAttempts: 1000, InitialDelay: time.Hour, MaxDelay: time.Hour}})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for store.appends.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := h.Handle(ctx, "acc-1", Open{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Handle = %v, want context.Canceled", err)
	}
}

func TestUnknownEventType(t *testing.T) {
	store := memstore.New(nil)
	if _, err := store.Append(t.Context(), "acc-1", eventstore.NoStream, []eventstore.Event{
		{Type: "AccountOpened", Data: []byte(`{"Owner":"ada"}`)},
		{Type: "AccountFrozen", Data: []byte(`{}`)},
		{Type: "MoneyDeposited", Data: []byte(`{"Amount":3}`)},
	}); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, store, nil)
	_, err := h.Handle(t.Context(), "acc-1", Deposit{Amount: 1})
	var ue *command.UnknownEventTypeError
	if !errors.Is(err, command.ErrUnknownEventType) || !errors.As(err, &ue) || ue.Name != "AccountFrozen" {
		t.Errorf("Handle over an unknown event = %v, want ErrUnknownEventType naming AccountFrozen", err)
	}

	skipping := newHandler(t, store, &command.Options{SkipUnknownEvents: true})
	res, err := skipping.Handle(t.Context(), "acc-1", Deposit{Amount: 1})
	if err != nil || res.StreamVersion != 4 {
		t.Fatalf("Handle with SkipUnknownEvents = %+v, %v; want version 4", res, err)
	}
	if s, _, _ := skipping.Load(t.Context(), "acc-1"); s.Balance != 4 {
		t.Errorf("balance = %d, want 4", s.Balance)
	}
}

func TestEventOfWrongFamily(t *testing.T) {
	reg := newRegistry()
	if err := command.Register[string](reg, "Note", nil); err != nil {
		t.Fatal(err)
	}
	store := memstore.New(nil)
	if _, err := store.Append(t.Context(), "acc-1", eventstore.NoStream, []eventstore.Event{{Type: "Note", Data: []byte(`"hi"`)}}); err != nil {
		t.Fatal(err)
	}
	h, err := command.NewHandler(store, reg, account, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Load(t.Context(), "acc-1"); err == nil {
		t.Error("Load of a stream holding a string event = nil error, want an error")
	}
}

func TestUnregisteredEventIsNotAppended(t *testing.T) {
	store := memstore.New(nil)
	reg := command.NewRegistry(nil)
	if err := command.Register[Opened](reg, "AccountOpened", nil); err != nil {
		t.Fatal(err)
	}
	h, err := command.NewHandler(store, reg, account, nil)
	if err != nil {
		t.Fatal(err)
	}
	handle(t, h, "acc-1", Open{})
	if _, err := h.Handle(t.Context(), "acc-1", Deposit{Amount: 1}); !errors.Is(err, command.ErrUnknownEventType) {
		t.Errorf("Handle emitting an unregistered event = %v, want ErrUnknownEventType", err)
	}
	if recs := readStream(t, store, "acc-1"); len(recs) != 1 {
		t.Errorf("stream has %d events, want 1", len(recs))
	}
}

func TestIdempotentCommand(t *testing.T) {
	store := memstore.New(nil)
	h := newHandler(t, store, nil)
	handle(t, h, "acc-1", Open{Owner: "ada"})
	handle(t, h, "acc-1", Deposit{Amount: 10})

	first := handle(t, h, "acc-1", Withdraw{Amount: 6, Key: "k-1"})
	// The retry would now fail (balance 4 < 6): the first outcome wins.
	again, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 6, Key: "k-1"})
	if err != nil {
		t.Fatalf("replayed Handle = %v, want the first outcome", err)
	}
	want := command.Result{StreamVersion: first.StreamVersion, Position: first.Position, Replayed: true}
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("replayed result mismatch (-want +got):\n%s", diff)
	}
	// Another handler on the same store (another process) also replays.
	other := newHandler(t, store, nil)
	handle(t, other, "acc-1", Deposit{Amount: 10})
	again, err = other.Handle(t.Context(), "acc-1", Withdraw{Amount: 6, Key: "k-1"})
	if err != nil || !again.Replayed || again.Position != first.Position {
		t.Errorf("replay from another handler = %+v, %v; want the first outcome", again, err)
	}
	if s, v, _ := h.Load(t.Context(), "acc-1"); s.Balance != 14 || v != 4 {
		t.Errorf("after replays: balance %d at version %d, want 14 at version 4", s.Balance, v)
	}
	// A new key is a new command.
	if res := handle(t, h, "acc-1", Withdraw{Amount: 6, Key: "k-2"}); res.Replayed || res.StreamVersion != 5 {
		t.Errorf("Handle with a new key = %+v, want a fresh append at version 5", res)
	}
	// A domain error on the first run is returned as is (and recorded, see
	// TestKeyedRefusalIsRemembered).
	if _, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 100, Key: "k-3"}); !errors.Is(err, ErrInsufficientFunds) {
		t.Errorf("Handle = %v, want ErrInsufficientFunds", err)
	}
}

// plainStore hides memstore's AppendKeyed.
type plainStore struct{ eventstore.Store }

func TestIdempotencyNeedsKeyedStore(t *testing.T) {
	store := plainStore{memstore.New(nil)}
	h := newHandler(t, store, nil)
	handle(t, h, "acc-1", Open{})
	handle(t, h, "acc-1", Deposit{Amount: 10})
	if _, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 1, Key: "k"}); !errors.Is(err, command.ErrIdempotencyUnsupported) {
		t.Errorf("keyed Handle on a plain store = %v, want ErrIdempotencyUnsupported", err)
	}
	if s, _, _ := h.Load(t.Context(), "acc-1"); s.Balance != 10 {
		t.Errorf("balance = %d, want 10 (nothing appended)", s.Balance)
	}
	if _, err := h.Handle(t.Context(), "acc-1", Withdraw{Amount: 1}); err != nil {
		t.Errorf("unkeyed Handle on a plain store = %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	store := memstore.New(nil)
	var logs bytes.Buffer
	var order []string
	mark := func(name string) command.Middleware {
		return func(next command.HandleFunc) command.HandleFunc {
			return func(ctx context.Context, streamID string, cmd any) (command.Result, error) {
				order = append(order, name)
				return next(ctx, streamID, cmd)
			}
		}
	}
	h := newHandler(t, store, &command.Options{Middleware: []command.Middleware{
		mark("outer"), command.Logging(slog.New(slog.NewJSONHandler(&logs, nil))), command.Validate, mark("inner"),
	}})
	handle(t, h, "acc-1", Open{Owner: "ada"})
	if diff := cmp.Diff([]string{"outer", "inner"}, order); diff != "" {
		t.Errorf("middleware order mismatch (-want +got):\n%s", diff)
	}

	order = nil
	_, err := h.Handle(command.WithCorrelationID(t.Context(), "req-9"), "acc-1", Deposit{Amount: -5})
	var ve *command.ValidationError
	if !errors.Is(err, command.ErrInvalidCommand) || !errors.As(err, &ve) || ve.Command != "command_test.Deposit" {
		t.Errorf("Handle(invalid Deposit) = %v, want a *ValidationError for command_test.Deposit", err)
	}
	if diff := cmp.Diff([]string{"outer"}, order); diff != "" {
		t.Errorf("an invalid command went past validation (-want +got):\n%s", diff)
	}

	dec := json.NewDecoder(&logs)
	var records []map[string]any
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	if len(records) != 2 {
		t.Fatalf("got %d log records, want 2:\n%v", len(records), records)
	}
	if r := records[0]; r["msg"] != "command handled" || r["command"] != "command_test.Open" || r["version"] != 1.0 || r["command_id"] == "" {
		t.Errorf("success record = %v", r)
	}
	if r := records[1]; r["msg"] != "command failed" || r["correlation_id"] != "req-9" || r["error"] != err.Error() {
		t.Errorf("failure record = %v", r)
	}
}

func TestDispatcher(t *testing.T) {
	store := memstore.New(nil)
	h := newHandler(t, store, nil)
	var d command.Dispatcher
	if err := errors.Join(
		command.Route(&d, func(ctx context.Context, c Open) (command.Result, error) { return h.Handle(ctx, "acc-"+c.Owner, c) }),
		command.Route(&d, func(ctx context.Context, c Deposit) (command.Result, error) { return h.Handle(ctx, "acc-ada", c) }),
	); err != nil {
		t.Fatal(err)
	}
	if err := command.Route(&d, func(context.Context, Open) (command.Result, error) { return command.Result{}, nil }); err == nil {
		t.Error("a second route for Open = nil error")
	}
	if err := command.Route(&d, func(context.Context, AccountCommand) (command.Result, error) { return command.Result{}, nil }); err == nil {
		t.Error("a route for an interface type = nil error")
	}
	if _, err := d.Dispatch(t.Context(), Open{Owner: "ada"}); err != nil {
		t.Fatal(err)
	}
	res, err := d.Dispatch(t.Context(), Deposit{Amount: 3})
	if err != nil || res.StreamVersion != 2 {
		t.Errorf("Dispatch(Deposit) = %+v, %v; want version 2", res, err)
	}
	if _, err := d.Dispatch(t.Context(), Withdraw{}); !errors.Is(err, command.ErrNoRoute) {
		t.Errorf("Dispatch(Withdraw) = %v, want ErrNoRoute", err)
	}
	if _, err := d.Dispatch(t.Context(), &Deposit{}); !errors.Is(err, command.ErrNoRoute) {
		t.Errorf("Dispatch(*Deposit) = %v, want ErrNoRoute", err)
	}
	var names []string
	for _, t := range d.CommandTypes() {
		names = append(names, t.String())
	}
	if diff := cmp.Diff([]string{"command_test.Open", "command_test.Deposit"}, names); diff != "" {
		t.Errorf("CommandTypes mismatch (-want +got):\n%s", diff)
	}
}

// hookStore runs before and after hooks around the nth Append (counting
// from 1) and counts ReadStream calls.
type hookStore struct {
	eventstore.Store
	appends, reads atomic.Int64
	before, after  func(n int64)
}

func (s *hookStore) Append(ctx context.Context, id string, ev eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	n := s.appends.Add(1)
	if s.before != nil {
		s.before(n)
	}
	res, err := s.Store.Append(ctx, id, ev, events)
	if s.after != nil {
		s.after(n)
	}
	return res, err
}

func (s *hookStore) ReadStream(ctx context.Context, id string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	s.reads.Add(1)
	return s.Store.ReadStream(ctx, id, from, dir, limit)
}

// TestQueuedCommandAppendsOnHandedOnState: a command that waited for its
// turn appends on the state the command ahead left, without reading the
// stream again.
func TestQueuedCommandAppendsOnHandedOnState(t *testing.T) {
	const writers, increments = 8, 25
	store := &hookStore{Store: memstore.New(nil)}
	h := newHandler(t, store, nil)
	handle(t, h, "hot", Open{Owner: "everyone"})
	store.reads.Store(0)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range increments {
				if _, err := h.Handle(t.Context(), "hot", Deposit{Amount: 1}); err != nil {
					t.Errorf("Handle = %v", err)
				}
			}
		})
	}
	wg.Wait()
	if reads := store.reads.Load(); reads >= writers*increments {
		t.Errorf("%d stream reads for %d commands: queued commands read the stream instead of taking the handed-on state", reads, writers*increments)
	}
	if state, version, err := h.Load(t.Context(), "hot"); err != nil || state.Balance != writers*increments || version != writers*increments+1 {
		t.Errorf("Load = balance %d at version %d, %v; want %d at %d", state.Balance, version, err, writers*increments, writers*increments+1)
	}
}

// TestHandedOnStateOverwrittenElsewhere: when another writer appends
// between the command ahead and the queued one, the queued command's
// append conflicts, and it decides again on the new events: nothing is
// lost.
func TestHandedOnStateOverwrittenElsewhere(t *testing.T) {
	base := memstore.New(nil)
	store := &hookStore{Store: base}
	h := newHandler(t, store, nil)
	elsewhere := newHandler(t, base, nil) // another process
	handle(t, h, "acc", Open{Owner: "ada"})
	second := make(chan error, 1)
	store.before = func(n int64) {
		switch n {
		case 2: // the first deposit: queue the second behind it
			go func() {
				_, err := h.Handle(t.Context(), "acc", Deposit{Amount: 2})
				second <- err
			}()
			time.Sleep(50 * time.Millisecond)
		case 3: // the second deposit, on the handed-on state
			if _, err := elsewhere.Handle(t.Context(), "acc", Deposit{Amount: 100}); err != nil {
				t.Errorf("Handle elsewhere = %v", err)
			}
		}
	}
	handle(t, h, "acc", Deposit{Amount: 1})
	if err := <-second; err != nil {
		t.Fatalf("second Handle = %v", err)
	}
	if state, version, err := h.Load(t.Context(), "acc"); err != nil || state.Balance != 103 || version != 4 {
		t.Errorf("Load = balance %d at version %d, %v; want 103 at version 4", state.Balance, version, err)
	}
}

// TestHandedOnStateNeverRefusesAlone: a queued command that its handed-on
// state would refuse is decided again on the stream as read after it
// arrived; here another writer's deposit makes the withdrawal possible.
func TestHandedOnStateNeverRefusesAlone(t *testing.T) {
	base := memstore.New(nil)
	store := &hookStore{Store: base}
	h := newHandler(t, store, nil)
	elsewhere := newHandler(t, base, nil) // another process
	handle(t, h, "acc", Open{Owner: "ada"})
	handle(t, h, "acc", Deposit{Amount: 10})
	second := make(chan error, 1)
	store.before = func(n int64) {
		if n == 3 { // the first withdrawal: queue the second behind it
			go func() {
				_, err := h.Handle(t.Context(), "acc", Withdraw{Amount: 5})
				second <- err
			}()
			time.Sleep(50 * time.Millisecond)
		}
	}
	store.after = func(n int64) {
		if n == 3 { // after the first withdrawal, before the second decides
			if _, err := elsewhere.Handle(t.Context(), "acc", Deposit{Amount: 20}); err != nil {
				t.Errorf("Handle elsewhere = %v", err)
			}
		}
	}
	handle(t, h, "acc", Withdraw{Amount: 10})
	if err := <-second; err != nil {
		t.Fatalf("second Withdraw = %v, want success: another writer's deposit covers it", err)
	}
	if state, _, err := h.Load(t.Context(), "acc"); err != nil || state.Balance != 15 {
		t.Errorf("Load = balance %d, %v; want 15", state.Balance, err)
	}
}
