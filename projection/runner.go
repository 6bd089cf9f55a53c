package projection

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

// Config configures a Runner. Projection, Source and Store are required.
type Config struct {
	Projection *Projection
	// Source delivers the global log, for example LogSource(store, nil).
	Source Source
	// Store holds the read model and the checkpoints.
	Store readmodel.Store
	// Tenant selects the tenant namespace; empty for none. A Runner with a
	// Tenant applies only that tenant's events (Record.Tenant) and skips
	// the rest, so its Source may be the tenant's own log (a store's
	// ForTenant view: see docs/tenancy.md) or, less efficiently, every
	// tenant's. A Runner without one applies whatever its Source delivers.
	Tenant string
	// Partitions splits the projection by stream ID into this many
	// partitions, each with its own Runner and checkpoint, so that they can
	// run in parallel. Events of one stream always go to one partition, in
	// order. Documents of a partitioned projection must each be written by
	// the events of one stream only. Default 1.
	Partitions int
	// Partition is the partition this Runner applies, 0 to Partitions-1.
	Partition int
	// Spread keeps each partition's documents, index entries and
	// checkpoint in a namespace of its own (Namespace.WithPartition), so
	// that a Redis Cluster spreads one read model over its masters
	// instead of one hash slot. A handler then writes only the documents
	// of its partition, those whose readmodel.PartitionOf(id, Partitions)
	// is Partition (documents keyed by the ID of the stream that writes
	// them always are); writing another fails the handler. Each commit
	// also checks that the store kept the one before, so a write lost in
	// a failover is noticed and the partition resumes from what the store
	// kept. Queries read a spread read model through Serving.
	Spread bool
	// BatchSize is the most events applied in one atomic batch. Default 500.
	BatchSize int
	// Prefetch names the documents a batch's handlers will read for an
	// event; at a handler's first read that misses, the Runner reads them
	// for the whole batch in one round trip (a batch whose handlers only
	// write reads nothing). Nil means the event's stream ID, which fits
	// the common one-document-per-stream read model. Return nil to read
	// nothing ahead.
	Prefetch func(rec eventstore.Record) []string
	// MaxAttempts is how often an event's handler runs before the
	// projection faults on it. Default 5.
	MaxAttempts int
	// Backoff is the first wait before a retry; waits double up to
	// MaxBackoff. Defaults 20ms and 2s.
	Backoff, MaxBackoff time.Duration
	// Logger receives the Runner's logs; nil discards them.
	Logger *slog.Logger
	// Hooks observe batches and retries, for metrics; nil means none.
	Hooks *Hooks
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Projection == nil {
		errs = append(errs, errors.New("projection: Config.Projection is required"))
	} else {
		if err := c.Projection.Namespace(c.Tenant).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("projection: namespace: %w", err))
		}
		if len(c.Projection.version) > 0 && c.Projection.version[0] == '$' {
			errs = append(errs, errors.New("projection: a version must not start with '$'"))
		}
		if base, _ := splitGeneration(c.Projection.version); strings.Contains(base, generationSep) {
			errs = append(errs, errors.New("projection: a version must not contain '~' (it marks a rebuild's generation)"))
		}
		if err := c.Projection.Err(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Source == nil {
		errs = append(errs, errors.New("projection: Config.Source is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("projection: Config.Store is required"))
	}
	if c.Partitions < 0 || c.Partition < 0 || (c.Partitions > 0 && c.Partition >= c.Partitions) || (c.Partitions == 0 && c.Partition > 0) {
		errs = append(errs, fmt.Errorf("projection: partition %d of %d is out of range", c.Partition, c.Partitions))
	}
	if c.BatchSize < 0 || c.MaxAttempts < 0 || c.Backoff < 0 || c.MaxBackoff < 0 {
		errs = append(errs, errors.New("projection: BatchSize, MaxAttempts and backoffs must not be negative"))
	}
	return errors.Join(errs...)
}

// State is what a Runner is doing.
type State string

const (
	StateStarting   State = "starting"
	StateCatchingUp State = "catching up"
	StateRunning    State = "running"
	StateRebuilding State = "rebuilding"
	StateFaulted    State = "faulted"
	// StateUnavailable: the read-model store or the log has been failing
	// for a while (Status.UnavailableSince); the Runner keeps retrying and
	// resumes by itself. It is not a fault: nothing is wrong with an event.
	StateUnavailable State = "store unavailable"
	StateRetired     State = "retired"
	StateStopped     State = "stopped"
)

// Fault describes why a projection is faulted: an event whose handler
// keeps failing. The Runner waits for Retry or Skip. (A read-model store or
// log that stays unreachable is no fault: see StateUnavailable.)
type Fault struct {
	Event    eventstore.Record
	Err      string
	Attempts int
	Since    time.Time
}

// Status is a snapshot of a Runner's progress.
type Status struct {
	Projection string
	Version    string
	Tenant     string
	Partition  int
	Partitions int
	State      State
	// Active reports whether readers are served from this version.
	Active bool
	// Position is the last position applied (the checkpoint).
	Position eventstore.Position
	// Head is the last position of the log, when the source knows it.
	Head eventstore.Position
	// LagEvents approximates how many events the projection is behind
	// Head (positions are not dense, so it may overcount).
	LagEvents uint64
	// LagTime is how old the last applied event was when it was applied,
	// while the projection is behind; zero when caught up.
	LagTime time.Duration
	// EventsPerSecond is the recent apply rate.
	EventsPerSecond float64
	// Remaining estimates the time left to catch up, from LagEvents and
	// EventsPerSecond; zero when unknown or caught up.
	Remaining time.Duration
	// Fault is set while the projection is stopped on an event.
	Fault *Fault
	// LastError is the last transient error (for example Redis
	// unreachable), cleared by the next success.
	LastError string
	// UnavailableSince is when the transient errors began, while State is
	// StateUnavailable; zero otherwise.
	UnavailableSince time.Time
}

// ErrRetired is returned by Run when a newer version of the projection has
// become active, so this Runner's read model is no longer served.
var ErrRetired = errors.New("projection: a newer version is active; this runner retired")

// ErrNotFaulted is returned by Retry and Skip when there is no fault.
var ErrNotFaulted = errors.New("projection: not faulted")

// Runner applies the log to one projection's read model (or one partition
// of it). Each batch of events, its read-model writes and the checkpoint
// are committed in one atomic Apply, so a crash at any point leaves them in
// agreement and a restart resumes at the checkpoint. Run it with Run; it is
// safe to call Status, Retry and Skip from other goroutines.
type Runner struct {
	cfg  Config
	log  *slog.Logger
	ns   readmodel.Namespace
	ptr  readmodel.Namespace
	tx   *Tx
	ctrl chan bool // true: retry, false: skip

	mu           sync.Mutex
	status       Status
	rate         rateMeter
	failures     int           // transient errors in a row
	failingSince time.Time     // when they began
	behindSince  time.Time     // when the log's head moved past Position
	faultEnded   chan struct{} // closed when the current Fault's wait ends
	registered   bool          // recorded in the catalog (catalog.go)
	// fence is a spread partition's namespace checkpoint (spread.go). A
	// commit in flight sets it; the Runner reads it once that has landed.
	fence string
	// changed is closed, and cleared, at the next commit or change of
	// state, for Waiters in this process (see served).
	changed chan struct{}

	// pipelined is set while the Runner's feed lets a batch's commit run
	// while the next batch is read and handled; flight is that commit
	// (pipeline.go). Both belong to the goroutine in Run.
	pipelined bool
	flight    *flight
}

// NewRunner validates cfg and returns a Runner.
func NewRunner(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 1
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 20 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := cfg.Projection
	r := &Runner{
		cfg:  cfg,
		ptr:  pointerNamespace(p.name, cfg.Tenant),
		ctrl: make(chan bool),
		log: log.With("projection", p.name, "version", p.version, "tenant", cfg.Tenant,
			"partition", cfg.Partition),
	}
	r.ns = r.ownNamespace()
	r.tx = newTx(cfg.Store, r.ns)
	if cfg.Spread {
		r.tx.partitions, r.tx.partition = cfg.Partitions, cfg.Partition
	}
	r.status = Status{Projection: p.name, Version: p.version, Tenant: cfg.Tenant,
		Partition: cfg.Partition, Partitions: cfg.Partitions, State: StateStarting}
	return r, nil
}

// Status returns the Runner's current status.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	if s.Fault != nil {
		f := *s.Fault
		s.Fault = &f
	} else if r.failures > 0 && (r.failures >= r.cfg.MaxAttempts || time.Since(r.failingSince) >= unavailableAfter) &&
		s.State != StateStopped && s.State != StateRetired {
		// The store or the log has been failing for a while (a call may
		// still be hanging): show it, while the Runner keeps retrying. A
		// Runner that has returned retries nothing: it shows as stopped.
		s.State = StateUnavailable
		s.UnavailableSince = r.failingSince
	}
	s.EventsPerSecond = r.rate.perSecond()
	if s.LagEvents > 0 && s.EventsPerSecond > 0 {
		s.Remaining = time.Duration(float64(s.LagEvents) / s.EventsPerSecond * float64(time.Second))
	}
	return s
}

// Retry makes a faulted Runner run the failed event's handler again (after
// a fix, say). It waits until the Runner takes the request: it returns
// ErrNotFaulted when there is no fault (or it was resolved meanwhile, from
// another process say), and an error matching ErrNoAnswer and ctx's error
// when ctx ends first, or the Runner stops, while it is still faulted.
func (r *Runner) Retry(ctx context.Context) error { return r.control(ctx, true) }

// Skip makes a faulted Runner pass over the failed event without applying
// it, and log that it did. It waits like Retry and fails like it.
func (r *Runner) Skip(ctx context.Context) error { return r.control(ctx, false) }

func (r *Runner) control(ctx context.Context, retry bool) error {
	r.mu.Lock()
	fault, ended := r.status.Fault, r.faultEnded
	r.mu.Unlock()
	if fault == nil {
		return ErrNotFaulted
	}
	action := wire.ActionSkip
	if retry {
		action = wire.ActionRetry
	}
	select {
	case r.ctrl <- retry:
		return nil
	case <-ended:
		r.mu.Lock()
		still := r.status.Fault == fault
		r.mu.Unlock()
		if still {
			return fmt.Errorf("%w: the runner stopped while faulted, before taking the %s request", ErrNoAnswer, action)
		}
		return fmt.Errorf("%w: the fault was resolved before this %s request", ErrNotFaulted, action)
	case <-ctx.Done():
		// Faulted but busy, for example publishing its fault to a slow
		// read-model store: not "not faulted".
		return fmt.Errorf("%w: the faulted runner did not take the %s request: %w", ErrNoAnswer, action, ctx.Err())
	}
}

func (r *Runner) setState(s State) {
	r.mu.Lock()
	r.status.State = s
	r.signal()
	r.mu.Unlock()
}

// signal wakes the Waiters watching this Runner. The caller holds r.mu.
func (r *Runner) signal() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// served returns the position this Runner has committed, when readers are
// served from its version and it alone applies the projection (one
// partition), with a channel closed at its next commit or change of state.
// ok is false when a Waiter must read the checkpoints from the store
// instead.
func (r *Runner) served() (pos eventstore.Position, next <-chan struct{}, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !r.status.Active, r.cfg.Partitions > 1, r.status.Fault != nil,
		r.status.State == StateStopped, r.status.State == StateRetired:
		return eventstore.Position{}, nil, false
	}
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.status.Position, r.changed, true
}

// errRetiring reports that a newer version has frozen this one and is
// about to take over; the Runner waits for the switch and then retires.
var errRetiring = errors.New("projection: a newer version is taking over")

// retiredEpoch is the namespace checkpoint a newer version sets to stop this
// version's writes before it switches readers over.
const retiredEpoch = wire.RetiredEpoch

// errLost reports that the namespace vanished under the Runner: Redis lost
// its data, or a newer version dropped it.
var errLost = errors.New("projection: read model lost")

// Run applies the log until ctx is cancelled (it then returns ctx.Err())
// or a newer version of the projection becomes active (ErrRetired).
// Transient errors are retried with backoff; an event whose handler keeps
// failing stops the Runner in StateFaulted until Retry or Skip.
func (r *Runner) Run(ctx context.Context) error {
	defer r.setState(StateStopped)
	backoff := r.cfg.Backoff
	for {
		err := r.runOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrRetired) && r.followRebuild(ctx): // rebuild.go
			backoff = r.cfg.Backoff
			continue
		case errors.Is(err, ErrRetired):
			r.setState(StateRetired)
			// The newer version dropped this namespace when it took over;
			// drop it again in case this Runner recreated it meanwhile.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			derr := r.cfg.Store.Drop(dctx, r.ns)
			cancel()
			if derr != nil {
				r.log.Warn("could not drop the retired version", "err", derr)
			}
			r.log.Info("retired: a newer version is active")
			return err
		case errors.Is(err, errLost):
			r.log.Warn("read model lost or rewound (Redis data loss, a failover or a concurrent drop); resuming from the checkpoint it kept, or from the start of the log")
			backoff = r.cfg.Backoff
			continue
		}
		r.noteError(err)
		r.log.Warn("projection interrupted; retrying", "err", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, r.cfg.MaxBackoff)
	}
}

// noteError records a transient error. While errors go on (for
// MaxAttempts in a row, or for unavailableAfter), Status reports
// StateUnavailable; the Runner keeps retrying and the next success clears
// it.
func (r *Runner) noteError(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status.LastError = err.Error()
	r.failures++
	if r.failures == 1 {
		r.failingSince = time.Now()
	}
}

// unavailableAfter is how long transient errors may go on before Status
// shows the store unavailable. A HealthCheck judges how long is too long
// (HealthOptions.UnavailableAfter).
const unavailableAfter = time.Second

// noteSuccess clears what noteError recorded. The caller holds r.mu.
func (r *Runner) noteSuccess() {
	if r.failures > 0 && time.Since(r.failingSince) >= unavailableAfter {
		r.log.Info("read-model store and log reachable again; resuming", "after", time.Since(r.failingSince).Round(time.Millisecond))
	}
	r.status.LastError = ""
	r.failures = 0
}

// runOnce opens the namespace and the feed and applies batches until an
// error.
func (r *Runner) runOnce(ctx context.Context) error {
	epoch, pos, rebuilding, err := r.open(ctx)
	if err != nil {
		return err
	}
	r.register(ctx)
	r.mu.Lock()
	r.status.Position = pos
	r.status.Active = false // checked again once caught up
	r.noteSuccess()
	if rebuilding {
		r.status.State = StateRebuilding
	} else {
		r.status.State = StateCatchingUp
	}
	r.mu.Unlock()

	feed, err := r.openFeed(ctx, pos)
	if err != nil {
		return err
	}
	feed = readAhead(ctx, feed, r.cfg.BatchSize, r.decodeAhead)
	defer feed.Close()
	decoded, _ := feed.(decodedFeed)
	scanned, _ := feed.(scannedFeed)
	// Only the log's own feed is read ahead; it commits nothing to its
	// source, so a batch may commit while the next is read and handled.
	r.pipelined = decoded != nil
	defer func() { _ = r.land() }()
	var lastHead, lastEpochCheck time.Time
	for {
		var (
			recs   []eventstore.Record
			mine   []bool
			events []any
		)
		if decoded != nil {
			recs, mine, events, err = decoded.nextDecoded(ctx, r.cfg.BatchSize)
		} else {
			recs, err = feed.Next(ctx, r.cfg.BatchSize)
		}
		if err != nil {
			return err
		}
		if mine == nil {
			mine = r.owns(recs)
		}
		next, err := r.apply(ctx, epoch, pos, recs, mine, events)
		if err != nil {
			return err
		}
		if scanned != nil {
			if next, err = r.skipTo(ctx, epoch, next, scanned.scanned()); err != nil {
				return err
			}
		}
		if next != pos {
			pos = next
			if err := feed.Commit(ctx, pos); err != nil {
				return err
			}
		}
		caughtUp := len(recs) == 0
		if caughtUp {
			// Idle: what was handled is committed before the Runner
			// reports its position or switches readers to it.
			if err := r.land(); err != nil {
				return err
			}
		}
		if time.Since(lastHead) > time.Second || caughtUp {
			lastHead = time.Now()
			r.updateHead(ctx, pos, caughtUp)
		}
		if caughtUp {
			if err := r.activate(ctx, epoch, pos); err != nil {
				return err
			}
			// An idle Runner commits nothing, so look for a lost or
			// replaced read model now and then.
			if time.Since(lastEpochCheck) > time.Second {
				lastEpochCheck = time.Now()
				if err := r.checkEpoch(ctx, epoch); err != nil {
					return err
				}
			}
		}
	}
}

// openFeed opens the source after pos. A source that can filter by type
// delivers only the types the projection handles: the union of its On,
// Handle and OnForget registrations, which are all the Runner applies.
func (r *Runner) openFeed(ctx context.Context, pos eventstore.Position) (Feed, error) {
	if fs, ok := r.cfg.Source.(filteredSource); ok {
		if feed, ok := fs.openFiltered(ctx, pos, r.cfg.Projection.EventTypes()); ok {
			return feed, nil
		}
	}
	return r.cfg.Source.Open(ctx, pos)
}

// skipTo moves the checkpoint from pos to through, the position a filtered
// feed has read through past the events it skipped, so that the lag stays
// honest and a restart does not read them again. It returns the new
// checkpoint.
func (r *Runner) skipTo(ctx context.Context, epoch string, pos, through eventstore.Position) (eventstore.Position, error) {
	if !pos.Before(through) {
		return pos, nil
	}
	r.tx.reset()
	if err := r.commit(ctx, epoch, through); err != nil {
		return pos, err
	}
	r.mu.Lock()
	r.status.Position = through
	r.mu.Unlock()
	return through, nil
}

// open reads (or creates) the namespace's epoch and this partition's
// checkpoint.
func (r *Runner) open(ctx context.Context) (epoch string, pos eventstore.Position, rebuilding bool, err error) {
	if err := r.checkRetired(ctx); err != nil {
		return "", pos, false, err
	}
	for {
		st, err := r.cfg.Store.State(ctx, r.ns)
		if err != nil {
			return "", pos, false, err
		}
		if st.Checkpoint == retiredEpoch {
			return "", pos, false, errRetiring
		}
		if st.Initialized && st.Checkpoint != "" {
			epoch = st.Checkpoint
			r.fence = epoch
			break
		}
		// A new (or lost) namespace: claim it with a fresh epoch. Only one
		// of several partitions racing here wins; the rest adopt its epoch.
		empty := ""
		_, err = r.cfg.Store.Apply(ctx, r.ns, readmodel.Batch{Checkpoint: newEpoch(), IfCheckpoint: &empty})
		if err != nil && !errors.Is(err, readmodel.ErrCheckpointMismatch) {
			return "", pos, false, err
		}
		rebuilding = true
		if err := r.checkRetired(ctx); err != nil {
			return "", pos, false, err // replaced while this Runner was starting
		}
	}
	doc, err := r.cfg.Store.Get(ctx, r.ns, checkpointID(r.cfg.Partition))
	if err != nil && !errors.Is(err, readmodel.ErrNotFound) {
		return "", pos, false, err
	}
	if err == nil {
		var cp checkpoint
		if err := json.Unmarshal(doc.Data, &cp); err != nil {
			return "", pos, false, fmt.Errorf("projection: checkpoint of %s: %w", r.ns, err)
		}
		pos = cp.Position
	}
	return epoch, pos, rebuilding, nil
}

// checkpoint is stored as a document of the namespace, one per partition,
// and committed with every batch.
type checkpoint = wire.Checkpoint

func checkpointID(partition int) string { return wire.CheckpointID(partition) }

func newEpoch() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "epoch-" + hex.EncodeToString(b)
}

// PartitionOf returns the partition, of n, that applies stream's events.
// It is readmodel.PartitionOf, so in a spread read model (Config.Spread) a
// document keyed by a stream's ID lives in the partition that applies the
// stream. A metadata stream (eventstore.MetadataStreamID) goes with its
// stream, so a truncation reaches the partition that holds the stream's
// documents.
func PartitionOf(streamID string, n int) int {
	return readmodel.PartitionOf(strings.TrimPrefix(streamID, "$$"), n)
}

// owns reports, for each of recs, whether this Runner applies it: its
// stream is in the Runner's partition and it is of the Runner's tenant. It
// runs once per batch, and decodeAhead, apply and prefetchIDs share its
// answer.
func (r *Runner) owns(recs []eventstore.Record) []bool {
	mine := make([]bool, len(recs))
	for i, rec := range recs {
		mine[i] = PartitionOf(rec.StreamID, r.cfg.Partitions) == r.cfg.Partition && !r.otherTenant(rec)
	}
	return mine
}

// decodeAhead tells, for the read-ahead of the log, which of recs this
// Runner applies (owns), and decodes the events of those it will hand to a
// typed handler (see Handle), so that the batch's apply does neither.
// events is nil when there are none; an event that fails to decode is left
// nil, to fail in its handler.
func (r *Runner) decodeAhead(recs []eventstore.Record) (mine []bool, events []any) {
	mine = r.owns(recs)
	for i, rec := range recs {
		h := r.cfg.Projection.handlers[rec.Type]
		if h.decode == nil || !mine[i] {
			continue
		}
		if events == nil {
			events = make([]any, len(recs))
		}
		events[i], _ = h.decode(rec)
	}
	return mine, events
}

// apply handles recs and commits them. It returns the new checkpoint.
// mine tells which of recs are the Runner's (see owns); events is nil or
// holds recs' events decoded ahead (see decodeAhead).
func (r *Runner) apply(ctx context.Context, epoch string, pos eventstore.Position, recs []eventstore.Record, mine []bool, events []any) (eventstore.Position, error) {
	r.tx.reset()
	start := time.Now()
	r.tx.ahead = func() []string { return r.prefetchIDs(pos, recs, mine) }
	last := pos
	var lastApplied eventstore.Record
	applied := 0
	for i := 0; i < len(recs); i++ {
		rec := recs[i]
		if !pos.Before(rec.Position) {
			continue // delivered again; already applied
		}
		h, ok := r.cfg.Projection.handlers[rec.Type]
		if !ok || !mine[i] {
			last = rec.Position
			continue
		}
		var event any
		if events != nil {
			event = events[i]
		}
		r.tx.rev = readmodel.Revision(rec.Position)
		err := h.run(ctx, r.tx, rec, event)
		if err == nil {
			err = r.tx.takeErr()
		}
		if err != nil {
			// Commit what came before the failing event (handlers are
			// rerun on a clean batch, as their writes are mixed), then
			// deal with it alone.
			if err := r.land(); err != nil {
				return pos, err
			}
			var err2 error
			before, after := events, events
			if events != nil {
				before, after = events[:i], events[i+1:]
			}
			if last, err2 = r.apply(ctx, epoch, pos, recs[:i], mine[:i], before); err2 != nil {
				return pos, err2
			}
			if last, err2 = r.applyFailing(ctx, epoch, last, rec, err); err2 != nil {
				return pos, err2
			}
			return r.apply(ctx, epoch, last, recs[i+1:], mine[i+1:], after)
		}
		last = rec.Position
		lastApplied = rec
		applied++
	}
	if last == pos {
		return pos, nil
	}
	if r.pipelined {
		if err := r.launch(ctx, epoch, last, applied, start, lastApplied); err != nil {
			return pos, err
		}
		return last, nil
	}
	if err := r.commit(ctx, epoch, last); err != nil {
		return pos, err
	}
	r.batchDone(applied, start, last, lastApplied)
	return last, nil
}

// batchDone records a committed batch in the status and the hooks.
func (r *Runner) batchDone(applied int, start time.Time, last eventstore.Position, lastApplied eventstore.Record) {
	r.observeBatch(applied, time.Since(start))
	r.mu.Lock()
	r.status.Position = last
	r.rate.add(applied, time.Since(start))
	if applied > 0 {
		r.status.LagTime = time.Since(lastApplied.RecordedAt)
	}
	r.mu.Unlock()
}

// prefetchIDs lists the documents to read ahead for recs, of which mine
// tells the Runner's.
func (r *Runner) prefetchIDs(pos eventstore.Position, recs []eventstore.Record, mine []bool) []string {
	seen := make(map[string]struct{})
	var ids []string
	for i, rec := range recs {
		if _, ok := r.cfg.Projection.handlers[rec.Type]; !ok || !pos.Before(rec.Position) || !mine[i] {
			continue
		}
		var want []string
		if r.cfg.Prefetch != nil {
			want = r.cfg.Prefetch(rec)
		} else {
			want = []string{rec.StreamID}
		}
		for _, id := range want {
			if _, dup := seen[id]; !dup {
				seen[id] = struct{}{}
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// applyFailing retries one event's handler, faulting the projection after
// MaxAttempts until an operator retries or skips it.
func (r *Runner) applyFailing(ctx context.Context, epoch string, pos eventstore.Position, rec eventstore.Record, err error) (eventstore.Position, error) {
	// The batch before the event may still be committing; the epoch check
	// below reads the store's checkpoint, which that commit moves.
	if err := r.land(); err != nil {
		return pos, err
	}
	h := r.cfg.Projection.handlers[rec.Type]
	attempts, backoff := 1, r.cfg.Backoff
	for {
		// A handler may fail because the read model vanished under it
		// (Redis lost its data): that is a rebuild, not a poison event.
		if err := r.checkEpoch(ctx, epoch); err != nil {
			return pos, err
		}
		if attempts >= r.cfg.MaxAttempts {
			retry, cerr := r.fault(ctx, rec, err, attempts)
			if cerr != nil {
				return pos, cerr
			}
			if !retry {
				r.log.Warn("operator skipped event", eventstore.LogAttrs(rec))
				r.tx.reset()
				if err := r.commit(ctx, epoch, rec.Position); err != nil {
					return pos, err
				}
				return rec.Position, nil
			}
			attempts, backoff = 0, r.cfg.Backoff
		} else {
			r.log.Warn("handler failed; retrying", eventstore.LogAttrs(rec), "attempt", attempts, "err", err)
			r.observeRetry("handler", attempts, err)
			if !sleep(ctx, backoff) {
				return pos, ctx.Err()
			}
			backoff = min(backoff*2, r.cfg.MaxBackoff)
		}
		r.tx.reset()
		r.tx.rev = readmodel.Revision(rec.Position)
		attempts++
		// Decoded afresh: the first attempt may have changed its event.
		if err = h.run(ctx, r.tx, rec, nil); err == nil {
			err = r.tx.takeErr()
		}
		if err == nil {
			if err := r.commit(ctx, epoch, rec.Position); err != nil {
				return pos, err
			}
			r.mu.Lock()
			r.status.Fault = nil
			r.status.State = StateCatchingUp
			r.status.Position = rec.Position
			r.mu.Unlock()
			return rec.Position, nil
		}
	}
}

// checkEpoch returns errLost (or ErrRetired) when the namespace is no
// longer the one this Runner opened.
func (r *Runner) checkEpoch(ctx context.Context, epoch string) error {
	st, err := r.cfg.Store.State(ctx, r.ns)
	if err != nil {
		return err
	}
	if st.Checkpoint == r.expectedFence(epoch) {
		return nil
	}
	if err := r.checkRetired(ctx); err != nil {
		return err
	}
	return errLost
}

// fault records the fault and waits for an operator.
func (r *Runner) fault(ctx context.Context, rec eventstore.Record, err error, attempts int) (retry bool, _ error) {
	f := &Fault{Event: rec, Err: err.Error(), Attempts: attempts, Since: time.Now()}
	r.mu.Lock()
	prev := r.status.State
	r.status.State = StateFaulted
	r.status.Fault = f
	ended := make(chan struct{})
	r.faultEnded = ended
	r.mu.Unlock()
	defer close(ended)
	r.log.Error("projection faulted: an event keeps failing; retry or skip it", eventstore.LogAttrs(rec),
		"attempts", attempts, "err", err)
	retry, cerr := r.awaitOperator(ctx, rec, *f) // control.go
	if cerr != nil {
		return false, cerr
	}
	r.mu.Lock()
	r.status.Fault = nil
	r.status.State = prev
	r.mu.Unlock()
	return retry, nil
}

// commit applies the pending writes and the checkpoint atomically, after
// the commit in flight, if any.
func (r *Runner) commit(ctx context.Context, epoch string, pos eventstore.Position) error {
	if err := r.land(); err != nil {
		return err
	}
	if err := r.commitWrites(ctx, epoch, pos, r.tx.writes); err != nil {
		return err
	}
	r.tx.reset()
	return nil
}

// commitWrites applies writes and the checkpoint pos atomically, guarded
// by the namespace's epoch so nothing is written into a namespace that was
// lost or dropped in the meantime. It does not touch r.tx, so it may run
// while the next batch is handled.
func (r *Runner) commitWrites(ctx context.Context, epoch string, pos eventstore.Position, writes []readmodel.Write) error {
	cp, _ := json.Marshal(checkpoint{Position: pos})
	writes = append(writes, readmodel.Write{ID: checkpointID(r.cfg.Partition), Revision: readmodel.Revision(pos), Data: cp})
	backoff := r.cfg.Backoff
	expect, next := r.expectedFence(epoch), r.fenceAt(epoch, pos)
	for attempt := 1; ; attempt++ {
		_, err := r.cfg.Store.Apply(ctx, r.ns, readmodel.Batch{Writes: writes, Checkpoint: next, IfCheckpoint: &expect})
		if err == nil {
			r.fence = next
			r.mu.Lock()
			r.noteSuccess()
			if r.status.Position.Before(pos) {
				r.status.Position = pos
			}
			r.signal()
			r.mu.Unlock()
			return nil
		}
		if errors.Is(err, readmodel.ErrCheckpointMismatch) {
			// Lost, rewound or retired, even if the pointer cannot be
			// read just now: reopening checks again.
			if rerr := r.checkRetired(ctx); errors.Is(rerr, ErrRetired) {
				return rerr
			}
			return errLost
		}
		if errors.Is(err, readmodel.ErrInvalidInput) || ctx.Err() != nil {
			return err
		}
		r.noteError(err)
		r.log.Warn("commit failed; retrying", "attempt", attempt, "err", err, "in", backoff)
		r.observeRetry("commit", attempt, err)
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, r.cfg.MaxBackoff)
	}
}

func (r *Runner) updateHead(ctx context.Context, pos eventstore.Position, caughtUp bool) {
	var head eventstore.Position
	if hr, ok := eventstore.As[eventstore.HeadReader](r.cfg.Source); ok {
		if h, err := hr.Head(ctx); err == nil {
			head = h
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if head.Before(pos) {
		head = pos
	}
	r.status.Head = head
	r.status.LagEvents = 0
	if pos.Before(head) {
		// Positions are not dense, so this is an estimate, but never zero
		// while behind.
		r.status.LagEvents = 1
		if head.Sequence > pos.Sequence {
			r.status.LagEvents = head.Sequence - pos.Sequence
		}
		if r.behindSince.IsZero() {
			r.behindSince = time.Now()
		}
		// Behind an open transaction nothing is applied: the lag in time
		// is how long the head has been out of reach.
		r.status.LagTime = max(r.status.LagTime, time.Since(r.behindSince))
		if r.status.State == StateRunning {
			r.status.State = StateCatchingUp
		}
		return
	}
	r.behindSince = time.Time{}
	if caughtUp {
		r.status.LagTime = 0
		if r.status.State == StateCatchingUp || r.status.State == StateRebuilding {
			r.status.State = StateRunning
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// rateMeter keeps an exponentially weighted events-per-second rate.
type rateMeter struct {
	eps float64
	at  time.Time
}

func (m *rateMeter) add(n int, took time.Duration) {
	if n == 0 || took <= 0 {
		return
	}
	cur := float64(n) / took.Seconds()
	if m.eps == 0 {
		m.eps = cur
	} else {
		m.eps = 0.8*m.eps + 0.2*cur
	}
	m.at = time.Now()
}

func (m *rateMeter) perSecond() float64 {
	if time.Since(m.at) > 10*time.Second {
		return 0
	}
	return m.eps
}
