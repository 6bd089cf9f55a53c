package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/eventfold/eventfold/eventstore"
)

// Result is the outcome of a handled command.
type Result struct {
	// StreamVersion is the stream's version after the command.
	StreamVersion int64
	// Position is the consistency token: the global position of the last
	// event the command appended. A query side that has applied Position
	// reflects the command (read-your-writes); send it to clients with
	// Position.String and read it back with eventstore.ParsePosition. When
	// the command appended nothing, it is the position of the last event
	// the decision was based on, or zero if that is unknown (the state came
	// from a snapshot alone).
	Position eventstore.Position
	// Events is the number of events the command appended; 0 for a command
	// that changed nothing and for a replay.
	Events int
	// Replayed reports that the command's idempotency key had been handled
	// before: this call appended nothing and returns the first outcome
	// (Events is then 0).
	Replayed bool
}

// Keyed is implemented by commands that carry an idempotency key, for
// example one taken from an HTTP Idempotency-Key header or set by the
// sender of an asynchronous command. The key remembers the command's first
// outcome, by any process sharing the event store: events appended, or a
// refusal. Handling the key again appends nothing and returns that outcome
// (a Result with Replayed set, or a [RejectedError] with Replayed set),
// even when the command would be decided differently now. The same key
// with a different command (another [Hash]) fails with [ErrKeyReused]. An
// empty key means the command is not idempotent.
//
// A command that does not implement Keyed (or returns "") may get its key
// from the context instead ([IdempotencyKey]), as every command a
// [Process] sends does.
//
// Keys are global to the event store (per tenant), not scoped to a stream
// or command type: use random IDs (UUIDs) or prefix them. How long keys
// are remembered is the store's retention policy. Keys need a store that
// implements eventstore.OutcomeStore; with any other store a keyed command
// fails with ErrIdempotencyUnsupported.
type Keyed interface {
	// IdempotencyKey returns the command's idempotency key, or "".
	IdempotencyKey() string
}

// DefaultReadBatch is the default number of events a Handler reads per
// eventstore.Store.ReadStream call while loading a stream.
const DefaultReadBatch = 1000

// Options configures a Handler. A nil *Options means all defaults.
type Options struct {
	// Retry bounds the retries after concurrency conflicts. The zero value
	// means the documented defaults (see RetryPolicy).
	Retry RetryPolicy

	// Snapshots turns on snapshots. Nil means none: every load reads the
	// whole stream.
	Snapshots *Snapshots

	// Middleware wraps every command, the first entry outermost. Nil means
	// none.
	Middleware []Middleware

	// Logger receives Warn records about retries and snapshot failures.
	// Nil discards them.
	Logger *slog.Logger

	// SkipUnknownEvents makes loads skip stored events whose type name is
	// not registered, instead of failing with ErrUnknownEventType. Turn it
	// on only when a stream legitimately holds events this decider does not
	// know, for example events written by a newer version during a rolling
	// deploy; skipping an event the decider needs gives it a wrong state.
	SkipUnknownEvents bool

	// ReadBatch is the number of events read per ReadStream call while
	// loading. Zero means DefaultReadBatch.
	ReadBatch int

	// NewID returns the ID given to a command that arrives without one.
	// Nil means eventstore.NewEventID.
	NewID func() string

	// CachedStreams is how many streams' states the Handler keeps in
	// memory after their commands, the least recently used going first. A
	// command for a stream whose state is kept decides on it and appends
	// at its version without reading the stream: one round trip to the
	// store instead of two. When another writer (another process, or
	// another Handler) has appended meanwhile, the append conflicts and the
	// command reads the events it missed and decides again, so a decision
	// is never stored on a stale state; a refusal or a no-op is decided
	// again on the stream as read, as for a queued command. A conflict that
	// shows the stream behind the kept state (its events removed, the
	// store reset) reads the stream from its start. A stream rewritten
	// elsewhere up to the very version kept, though, looks unchanged:
	// restart Handlers with a cache after resetting their store. It pays where
	// one Handler writes its streams (commands routed by stream ID);
	// streams written from several processes pay a conflict instead of a
	// read. NewHandler refuses it with a shredding registry, whose states
	// would keep decrypted personal data in memory after a Forget. Zero
	// (the default) keeps none: every command reads its stream.
	CachedStreams int

	// Refusals names the domain's errors by stable codes, for refusals
	// recorded under idempotency keys (see Keyed): a refusal is stored
	// with the code of the first entry, in code order, that its error
	// matches (errors.Is), else with its Go type name; a replayed refusal
	// unwraps to the entry its code names, so errors.Is(err,
	// ErrInsufficientFunds) holds for it too. Codes are stored: keep them
	// stable. Nil means no codes.
	Refusals map[string]error
}

// Handler handles the commands of one Decider against an event store: it
// loads the stream's state (from a snapshot plus the events after it, if
// snapshots are on), calls Decide, and appends the events with the version
// it loaded as the expected version. When another writer appended first,
// it reloads and decides again, within its RetryPolicy. A Handler is safe
// for concurrent use: commands for different streams run in parallel, and
// commands for the same stream take turns, in arrival order, so they
// conflict only with writers in other processes or other Handlers.
type Handler[S, C, E any] struct {
	store    eventstore.Store
	reg      *Registry
	decider  Decider[S, C, E]
	opts     Options
	logger   *slog.Logger
	snaps    *Snapshots
	refusals []refusalCode // Options.Refusals in code order
	handle   HandleFunc
	queue    streamQueue[loaded[S]]
	cache    *stateCache[loaded[S]] // nil: Options.CachedStreams is 0
}

// NewHandler returns a Handler for decider that stores events in store,
// encoded by reg. Decider.Evolve and Decider.Decide are required.
func NewHandler[S, C, E any](store eventstore.Store, reg *Registry, decider Decider[S, C, E], opts *Options) (*Handler[S, C, E], error) {
	var errs []error
	if store == nil {
		errs = append(errs, errors.New("command: NewHandler: store is nil"))
	}
	if reg == nil {
		errs = append(errs, errors.New("command: NewHandler: registry is nil"))
	}
	if decider.Evolve == nil {
		errs = append(errs, errors.New("command: NewHandler: Decider.Evolve is nil"))
	}
	if decider.Decide == nil {
		errs = append(errs, errors.New("command: NewHandler: Decider.Decide is nil"))
	}
	h := &Handler[S, C, E]{store: store, reg: reg, decider: decider}
	if opts != nil {
		h.opts = *opts
	}
	h.opts.Retry = h.opts.Retry.withDefaults()
	if h.opts.ReadBatch <= 0 {
		h.opts.ReadBatch = DefaultReadBatch
	}
	if h.opts.NewID == nil {
		h.opts.NewID = eventstore.NewEventID
	}
	h.logger = h.opts.Logger
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	refusals, err := refusalCodes(h.opts.Refusals)
	if err != nil {
		errs = append(errs, err)
	}
	h.refusals = refusals
	switch {
	case h.opts.CachedStreams < 0:
		errs = append(errs, errors.New("command: NewHandler: Options.CachedStreams must not be negative"))
	case h.opts.CachedStreams > 0 && reg != nil && h.shredder() != nil:
		errs = append(errs, errors.New("command: NewHandler: Options.CachedStreams with a shredding registry would keep personal data in memory after Forget"))
	case h.opts.CachedStreams > 0:
		h.cache = newStateCache[loaded[S]](h.opts.CachedStreams)
	}
	if s := h.opts.Snapshots; s != nil {
		snaps := *s
		if snaps.Store == nil {
			errs = append(errs, errors.New("command: NewHandler: Snapshots.Store is nil"))
		}
		if snaps.SchemaVersion <= 0 {
			snaps.SchemaVersion = 1
		}
		if snaps.Policy == nil {
			snaps.Policy = EveryN(DefaultSnapshotEvery)
		}
		if snaps.Codec == nil {
			snaps.Codec = JSONCodec{}
		}
		h.snaps = &snaps
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	h.handle = chain(h.core, h.opts.Middleware)
	return h, nil
}

// Handle handles cmd for the stream streamID and returns the stream's new
// version and the consistency token.
//
// Before the middleware runs, Handle makes sure ctx carries a command ID
// (a new one if absent) and a correlation ID (the command ID if absent);
// every appended event gets the command ID as its causation ID and the
// correlation ID as its own.
//
// An error returned by Decide is returned wrapped in a [RejectedError]
// (it matches ErrRejected; errors.Is and errors.As still find the
// decider's error, and the message is unchanged) and nothing is appended. A conflict that outlasts the RetryPolicy returns an error
// matching eventstore.ErrConcurrency. A command implementing [Keyed] with a
// non-empty key is idempotent (see Keyed).
func (h *Handler[S, C, E]) Handle(ctx context.Context, streamID string, cmd C) (Result, error) {
	if CommandID(ctx) == "" {
		ctx = WithCommandID(ctx, h.opts.NewID())
	}
	if CorrelationID(ctx) == "" {
		ctx = WithCorrelationID(ctx, CommandID(ctx))
	}
	return h.handle(ctx, streamID, cmd)
}

// Load returns the current state and version of a stream, built the same
// way Handle builds it. A stream with no events has the initial state and
// version 0.
func (h *Handler[S, C, E]) Load(ctx context.Context, streamID string) (S, int64, error) {
	l, err := h.load(ctx, streamID)
	return l.state, l.version, err
}

func (h *Handler[S, C, E]) core(ctx context.Context, streamID string, c any) (Result, error) {
	cmd, ok := c.(C)
	if !ok {
		return Result{}, fmt.Errorf("command: handler for %s was given a %T (changed by middleware?)", reflect.TypeFor[C](), c)
	}
	keyed, err := h.keyOf(ctx, c)
	if err != nil {
		return Result{}, err
	}
	turn, err := h.queue.acquire(ctx, streamID)
	if err != nil {
		return Result{}, fmt.Errorf("command: waiting for the command ahead on stream %q: %w", streamID, err)
	}
	var next loaded[S]
	var passOn bool
	defer func() {
		if h.cache != nil && passOn {
			h.cache.put(streamID, next)
		} else if h.cache != nil {
			h.cache.drop(streamID) // the stream's state is unknown
		}
		turn.release(next, passOn)
	}()

	// The command ahead, if it just finished, left the state it appended
	// to (or the cache kept it): append on it directly, and let the
	// expected version catch a write from elsewhere.
	l, handedOn := turn.handoff()
	if !handedOn && h.cache != nil {
		l, handedOn = h.cache.get(streamID)
	}
	if !handedOn {
		if l, err = h.load(ctx, streamID); err != nil {
			return Result{}, err
		}
	}
	readSinceArrival := !handedOn
	behind, rewound := false, false
	for attempt := 1; ; attempt++ {
		if rewound {
			// The stream is behind the state this command started from
			// (its events were removed, say, under a kept state): read it
			// all again.
			if l, err = h.load(ctx, streamID); err != nil {
				return Result{}, err
			}
			behind, rewound, readSinceArrival = false, false, true
		}
		if behind {
			// After a conflict only the events the winner appended are new:
			// read the tail, not the whole stream again.
			if l, err = h.catchUp(ctx, streamID, l); err != nil {
				return Result{}, err
			}
			behind, readSinceArrival = false, true
		}
		events, decideErr := h.decider.Decide(cmd, l.state)
		if decideErr != nil || len(events) == 0 {
			if !readSinceArrival {
				// A refusal or a no-op is not checked by the store: decide
				// it again on a state read after the command arrived.
				behind = true
				attempt--
				continue
			}
			next, passOn = l, true
			// A keyed refusal is recorded, and a key recorded before
			// returns its first outcome: a retry may be refused or do
			// nothing now because its first run changed the state.
			if keyed != nil {
				return h.settleKeyed(ctx, keyed, streamID, l, decideErr)
			}
			if decideErr != nil {
				return Result{}, h.rejected(decideErr)
			}
			return Result{StreamVersion: l.version, Position: l.position}, nil
		}
		batch, err := h.encode(ctx, events)
		if err != nil {
			return Result{}, err
		}
		rec, err := h.append(ctx, keyed, streamID, eventstore.Exact(l.version), batch)
		if errors.Is(err, eventstore.ErrConcurrency) {
			if err := h.awaitRetry(ctx, streamID, attempt, err); err != nil {
				return Result{}, err
			}
			var ce *eventstore.ConcurrencyError
			behind = true
			rewound = errors.As(err, &ce) && ce.Actual < l.version
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("command: append to stream %q: %w", streamID, err)
		}
		res := rec.Result
		if res.Replayed {
			return h.recorded(rec)
		}
		next, passOn = h.after(ctx, streamID, l, res, events, turn.queued() || h.cache != nil)
		return Result{StreamVersion: res.StreamVersion, Position: res.Position, Events: len(events)}, nil
	}
}

// append appends batch, with the command's key when it has one.
func (h *Handler[S, C, E]) append(ctx context.Context, keyed *keyedCommand, streamID string,
	expected eventstore.ExpectedVersion, batch []eventstore.Event) (eventstore.KeyRecord, error) {
	if keyed != nil {
		return keyed.store.AppendCommand(ctx, keyed.key, streamID, expected, batch)
	}
	res, err := h.store.Append(ctx, streamID, expected, batch)
	return eventstore.KeyRecord{Result: res}, err
}

// awaitRetry waits before attempt+1 after the conflict err, or returns an
// error when the RetryPolicy allows no more attempts or ctx ends.
func (h *Handler[S, C, E]) awaitRetry(ctx context.Context, streamID string, attempt int, err error) error {
	retry := h.opts.Retry
	if attempt >= retry.MaxAttempts {
		return fmt.Errorf("command: stream %q still conflicting after %d attempts: %w", streamID, attempt, err)
	}
	d := retry.delay(attempt)
	h.logger.LogAttrs(ctx, slog.LevelWarn, "command: concurrency conflict, retrying",
		slog.String("stream", streamID), slog.Int("attempt", attempt), slog.Duration("delay", d), LogAttrs(ctx))
	return sleep(ctx, d)
}

// after returns the state after the command appended events, and whether
// to hand it on: when a snapshot is due (which it saves) or a command is
// queued behind this one (or the state is to be cached).
func (h *Handler[S, C, E]) after(ctx context.Context, streamID string, l loaded[S], res eventstore.AppendResult,
	events []E, queued bool) (loaded[S], bool) {
	snapshot := h.snaps != nil && h.snaps.Policy(streamID, res.StreamVersion, l.snapVersion)
	if !snapshot && !queued {
		return loaded[S]{}, false
	}
	after := loaded[S]{state: l.state, version: res.StreamVersion, position: res.Position, snapVersion: l.snapVersion}
	for _, e := range events {
		after.state = h.decider.Evolve(after.state, e)
	}
	if snapshot {
		h.saveSnapshot(ctx, streamID, res.StreamVersion, after.state)
		after.snapVersion = res.StreamVersion
	}
	return after, true
}

func (h *Handler[S, C, E]) encode(ctx context.Context, events []E) ([]eventstore.Event, error) {
	corr, cause := CorrelationID(ctx), CommandID(ctx)
	batch := make([]eventstore.Event, len(events))
	for i, e := range events {
		ev, err := h.reg.Encode(e)
		if err != nil {
			return nil, err
		}
		ev.Metadata.CorrelationID = corr
		ev.Metadata.CausationID = cause
		batch[i] = ev
	}
	return batch, nil
}

type loaded[S any] struct {
	state       S
	version     int64
	position    eventstore.Position
	snapVersion int64
}

func (h *Handler[S, C, E]) load(ctx context.Context, streamID string) (loaded[S], error) {
	l := loaded[S]{state: h.decider.initial()}
	if h.snaps != nil {
		if s, v, ok := h.loadSnapshot(ctx, streamID); ok {
			l.state, l.version, l.snapVersion = s, v, v
		}
	}
	return h.catchUp(ctx, streamID, l)
}

// catchUp evolves l with the events of streamID after l.version.
func (h *Handler[S, C, E]) catchUp(ctx context.Context, streamID string, l loaded[S]) (loaded[S], error) {
	for {
		recs, err := h.store.ReadStream(ctx, streamID, l.version+1, eventstore.Forward, h.opts.ReadBatch)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			if l.version > 0 || l.snapVersion > 0 {
				// A snapshot, or a kept state, of a stream that has no
				// events belongs to an event store that was reset; it is
				// stale.
				return loaded[S]{state: h.decider.initial()}, nil
			}
			return l, nil
		}
		if err != nil {
			return loaded[S]{}, fmt.Errorf("command: load stream %q: %w", streamID, err)
		}
		if l.snapVersion > 0 && l.version == l.snapVersion && len(recs) > 0 && recs[0].Version > l.version+1 {
			// The events right after the snapshot are gone: the stream
			// was deleted and recreated, or truncated past the
			// snapshot (eventstore.StreamLifecycle). The snapshot
			// belongs to what was deleted; fold what is readable.
			return h.catchUp(ctx, streamID, loaded[S]{state: h.decider.initial()})
		}
		for _, rec := range recs {
			e, ok, err := h.decode(rec)
			if err != nil {
				return loaded[S]{}, fmt.Errorf("command: load stream %q: %w", streamID, err)
			}
			if ok {
				l.state = h.decider.Evolve(l.state, e)
			}
			l.version, l.position = rec.Version, rec.Position
		}
		if len(recs) < h.opts.ReadBatch {
			return l, nil
		}
	}
}

func (h *Handler[S, C, E]) decode(rec eventstore.Record) (E, bool, error) {
	var zero E
	v, err := h.reg.Decode(rec)
	if err != nil {
		if (h.opts.SkipUnknownEvents || rec.Type == SubjectForgottenType) && errors.Is(err, ErrUnknownEventType) {
			return zero, false, nil
		}
		return zero, false, err
	}
	e, ok := v.(E)
	if !ok {
		return zero, false, fmt.Errorf("command: event %q decodes to %T, which is not a %s", rec.Type, v, reflect.TypeFor[E]())
	}
	return e, true, nil
}

// loadSnapshot returns the state and version of streamID's snapshot if there
// is a usable one. Snapshots are a cache, so failures fall back to a full
// load. With a shredding registry, only a sealed snapshot whose subjects all
// still have their keys is usable (see sealSnapshot).
func (h *Handler[S, C, E]) loadSnapshot(ctx context.Context, streamID string) (S, int64, bool) {
	var zero S
	snap, err := h.snaps.Store.Load(ctx, streamID)
	switch {
	case errors.Is(err, ErrSnapshotNotFound):
		return zero, 0, false
	case err != nil:
		h.logger.LogAttrs(ctx, slog.LevelWarn, "command: snapshot load failed, reading the whole stream",
			slog.String("stream", streamID), slog.String("error", err.Error()), LogAttrs(ctx))
		return zero, 0, false
	case snap.SchemaVersion != h.snaps.SchemaVersion || snap.Version <= 0:
		return zero, 0, false
	}
	data := snap.State
	if codec := h.shredder(); codec != nil {
		if data, err = h.openSnapshot(ctx, codec, snap); err != nil {
			// A forgotten subject or a snapshot from before shredding is
			// expected, not a failure.
			if !errors.Is(err, errSnapshotShredded) && !errors.Is(err, errSnapshotInClear) {
				h.logger.LogAttrs(ctx, slog.LevelWarn, "command: snapshot does not open, reading the whole stream",
					slog.String("stream", streamID), slog.Int64("version", snap.Version), slog.String("error", err.Error()), LogAttrs(ctx))
			}
			return zero, 0, false
		}
	}
	var state S // not Initial: the snapshot holds the whole state
	if err := h.snaps.Codec.Unmarshal(data, &state); err != nil {
		h.logger.LogAttrs(ctx, slog.LevelWarn, "command: snapshot does not decode, reading the whole stream",
			slog.String("stream", streamID), slog.Int64("version", snap.Version), slog.String("error", err.Error()), LogAttrs(ctx))
		return zero, 0, false
	}
	return state, snap.Version, true
}

// saveSnapshot saves state as of version. The command has succeeded by
// then, so a failure is logged, not returned.
func (h *Handler[S, C, E]) saveSnapshot(ctx context.Context, streamID string, version int64, state S) {
	data, err := h.snaps.Codec.Marshal(state)
	if codec := h.shredder(); err == nil && codec != nil {
		data, err = h.sealSnapshot(ctx, codec, streamID, version, data)
	}
	if err == nil {
		err = h.snaps.Store.Save(ctx, Snapshot{StreamID: streamID, Version: version, SchemaVersion: h.snaps.SchemaVersion, State: data})
	}
	if err != nil {
		h.logger.LogAttrs(ctx, slog.LevelWarn, "command: snapshot save failed",
			slog.String("stream", streamID), slog.Int64("version", version), slog.String("error", err.Error()), LogAttrs(ctx))
	}
}
