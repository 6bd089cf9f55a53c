package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

// Checkpoints stores named positions in the log durably, next to the
// events: pgstore.Checkpoints and memstore.Checkpoints implement it. A
// Process keeps its position there, never in a read-model store, so losing
// Redis cannot make it react to an event again.
type Checkpoints interface {
	// Load returns the position saved under name, or the zero Position.
	Load(ctx context.Context, name string) (eventstore.Position, error)
	// Save stores pos under name unless a later position is stored.
	Save(ctx context.Context, name string, pos eventstore.Position) error
}

// Locker grants exclusive leases across processes: pgstore.Locker
// implements it. held ends when the lease is lost; release gives it up.
type Locker interface {
	Lock(ctx context.Context, name string) (held context.Context, release func(), err error)
}

// Sender sends a command and returns its outcome; *Dispatcher implements it.
type Sender interface {
	Dispatch(ctx context.Context, cmd any) (Result, error)
}

// ProcessConfig configures a Process. Name, Store, Registry, Commands and
// Checkpoints are required.
type ProcessConfig struct {
	// Name identifies the process manager: its checkpoint, its lease and
	// the prefix of every command key it sends. Changing it makes a new
	// process manager that starts from the beginning of the log.
	Name string
	// Store is the log the process reacts to, read from the position in
	// Checkpoints onwards.
	Store eventstore.Store
	// Registry decodes the events, as the command side encoded them.
	Registry *Registry
	// Commands sends the commands the handlers ask for, usually the
	// application's *Dispatcher. Its Handlers must run on a store that
	// implements eventstore.KeyedAppender: every command a Process sends
	// is keyed.
	Commands Sender
	// Checkpoints keeps the process's position, under "process/"+Name.
	Checkpoints Checkpoints
	// Locker keeps one replica of the process active at a time, under the
	// lease "process/"+Name. Nil means no lease: run one replica only.
	Locker Locker
	// Logger receives a Warn record per failed attempt at an event. Nil
	// discards them.
	Logger *slog.Logger
	// BatchSize is the number of events read per ReadAll. Zero means 100.
	BatchSize int
	// PollInterval bounds the wait between reads of an idle log. Zero
	// means 250 ms. A store that tells of appends in this process (as
	// memstore and pgstore do, with a Changed method) cuts the wait short.
	PollInterval time.Duration
	// MaxBackoff bounds the wait between attempts at an event whose
	// handler fails. Zero means 5 s.
	MaxBackoff time.Duration
}

// Process is a process manager: it reacts to events of the log by sending
// commands, each under an idempotency key derived from the process's name,
// the event's ID and the command's place among the commands sent for that
// event. Handling an event again (after a crash, a lost lease or a restart
// from an older checkpoint) sends the same commands under the same keys,
// so each returns its first outcome, refusals included, and none is
// decided a second time. Handlers must therefore decide only from the
// event and the outcomes of the commands they send.
//
// A Process keeps its position in Checkpoints and runs under a lease, so
// replicas take over from each other and never run it together. It has no
// read model and nothing to rebuild.
//
// Build one with NewProcess, register handlers with OnEvent, then Run it.
type Process struct {
	cfg      ProcessConfig
	log      *slog.Logger
	handlers map[string]processHandler
	errs     []error

	mu     sync.Mutex
	status ProcessStatus
}

type processHandler func(ctx context.Context, s *Step, rec eventstore.Record) error

// ProcessStatus is what a Process is doing.
type ProcessStatus struct {
	// Position is the position of the last event fully handled.
	Position eventstore.Position
	// Active reports whether this replica holds the lease (always true
	// without a Locker, once running).
	Active bool
	// Failing is the event being retried, with the last error and the
	// number of attempts so far; nil while the process keeps up.
	Failing *ProcessFailure
}

// ProcessFailure is an event whose handler keeps failing.
type ProcessFailure struct {
	Event    eventstore.Record
	Err      string
	Attempts int
}

// NewProcess returns a Process for cfg, with no handlers yet.
func NewProcess(cfg ProcessConfig) (*Process, error) {
	var errs []error
	if cfg.Name == "" {
		errs = append(errs, errors.New("command: ProcessConfig.Name is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("command: ProcessConfig.Store is required"))
	}
	if cfg.Registry == nil {
		errs = append(errs, errors.New("command: ProcessConfig.Registry is required"))
	}
	if cfg.Commands == nil {
		errs = append(errs, errors.New("command: ProcessConfig.Commands is required"))
	}
	if cfg.Checkpoints == nil {
		errs = append(errs, errors.New("command: ProcessConfig.Checkpoints is required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Process{cfg: cfg, log: log.With("process", cfg.Name), handlers: map[string]processHandler{}}, nil
}

// Name returns the process's name.
func (p *Process) Name() string { return p.cfg.Name }

// OnEvent makes p call fn for every event whose Go type is E, decoded
// through the process's Registry. An error from fn (other than a command's
// refusal, which fn sees as the outcome of Step.Send and decides upon)
// makes the Process try the event again, with backoff, until it succeeds:
// the process never passes over an event. E must be registered; if not,
// Run fails at once, naming it.
func OnEvent[E any](p *Process, fn func(ctx context.Context, s *Step, event E) error) {
	var zero E
	name, err := p.cfg.Registry.Name(zero)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("command: process %s: OnEvent: %w", p.cfg.Name, err))
		return
	}
	p.handlers[name] = func(ctx context.Context, s *Step, rec eventstore.Record) error {
		v, err := p.cfg.Registry.Decode(rec)
		if err != nil {
			return err
		}
		e, ok := v.(E)
		if !ok {
			return fmt.Errorf("command: event %q decodes to %T, not %s", rec.Type, v, reflect.TypeFor[E]())
		}
		return fn(ctx, s, e)
	}
}

// EventTypes returns the stored type names p reacts to.
func (p *Process) EventTypes() []string {
	out := make([]string, 0, len(p.handlers))
	for name := range p.handlers {
		out = append(out, name)
	}
	return out
}

// Status returns what p is doing.
func (p *Process) Status() ProcessStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.status
	if s.Failing != nil {
		f := *s.Failing
		s.Failing = &f
	}
	return s
}

func (p *Process) setStatus(f func(*ProcessStatus)) {
	p.mu.Lock()
	f(&p.status)
	p.mu.Unlock()
}

// Step is what a handler gets for one event: the record, and Send.
type Step struct {
	p    *Process
	rec  eventstore.Record
	sent int
}

// Record returns the event being handled, as stored.
func (s *Step) Record() eventstore.Record { return s.rec }

// Send sends cmd through the process's Commands under the idempotency key
// "<process name>:<event ID>:<n>", n counting the commands sent for this
// event from 1, with the event's correlation ID and the event's ID as the
// command's causation. A command sent again under the same key returns its
// first outcome: the same Result, or the same refusal (an error matching
// ErrRejected). Commands sent by a process should not carry keys of their
// own: a command's own key takes precedence over the process's.
func (s *Step) Send(ctx context.Context, cmd any) (Result, error) {
	s.sent++
	ctx = withIdempotencyKey(ctx, s.p.cfg.Name+":"+s.rec.ID+":"+strconv.Itoa(s.sent))
	corr := s.rec.Metadata.CorrelationID
	if corr == "" {
		corr = s.rec.ID
	}
	ctx = WithCorrelationID(ctx, corr)
	return s.p.cfg.Commands.Dispatch(ctx, cmd)
}

// Run reacts to the log until ctx ends, then returns nil. With a Locker it
// first waits for the lease, and when the lease is lost it stops sending
// and waits for it again. It returns an error only when the process cannot
// run at all (a handler registered for an unregistered type).
func (p *Process) Run(ctx context.Context) error {
	if err := errors.Join(p.errs...); err != nil {
		return err
	}
	for ctx.Err() == nil {
		held, release := ctx, func() {}
		if p.cfg.Locker != nil {
			h, r, err := p.cfg.Locker.Lock(ctx, "process/"+p.cfg.Name)
			if err != nil {
				if ctx.Err() == nil {
					p.log.WarnContext(ctx, "command: process lease unavailable, retrying", "error", err.Error())
					_ = sleep(ctx, time.Second)
				}
				continue
			}
			// The lease's context ends when the lease is lost; end it with
			// ctx too.
			lctx, cancel := context.WithCancel(h)
			stop := context.AfterFunc(ctx, cancel)
			held, release = lctx, func() { stop(); cancel(); r() }
		}
		p.setStatus(func(s *ProcessStatus) { s.Active = true })
		p.runHeld(held)
		p.setStatus(func(s *ProcessStatus) { s.Active = false })
		release()
	}
	return nil
}

// runHeld reacts to the log from the saved position until ctx ends.
func (p *Process) runHeld(ctx context.Context) {
	name := "process/" + p.cfg.Name
	var pos eventstore.Position
	if err := p.retry(ctx, nil, func() (err error) {
		pos, err = p.cfg.Checkpoints.Load(ctx, name)
		return err
	}); err != nil {
		return
	}
	p.setStatus(func(s *ProcessStatus) { s.Position = pos })
	idle := time.Millisecond
	for ctx.Err() == nil {
		var recs []eventstore.Record
		if err := p.retry(ctx, nil, func() (err error) {
			recs, err = p.cfg.Store.ReadAll(ctx, pos, p.cfg.BatchSize)
			return err
		}); err != nil {
			return
		}
		if len(recs) == 0 {
			p.wait(ctx, idle)
			idle = min(2*idle, p.cfg.PollInterval)
			continue
		}
		idle = time.Millisecond
		for _, rec := range recs {
			h := p.handlers[rec.Type]
			if h != nil {
				if err := p.retry(ctx, &rec, func() error { return h(ctx, &Step{p: p, rec: rec}, rec) }); err != nil {
					return
				}
			}
			pos = rec.Position
			if h != nil || rec.Position == recs[len(recs)-1].Position {
				// A handled event's position is saved before the next
				// one is handled, so a restart repeats at most one event.
				if err := p.retry(ctx, nil, func() error { return p.cfg.Checkpoints.Save(ctx, name, pos) }); err != nil {
					return
				}
			}
			p.setStatus(func(s *ProcessStatus) { s.Position = pos })
		}
	}
}

// wait waits for d, or less when the store tells of an append in this
// process.
func (p *Process) wait(ctx context.Context, d time.Duration) {
	var changed <-chan struct{}
	if n, ok := eventstore.As[eventstore.Notifier](p.cfg.Store); ok {
		changed = n.Changed()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-changed:
	}
}

// retry calls f until it succeeds, with capped exponential backoff, and
// returns nil, or ctx's error once ctx ends. Failures about an event are
// shown in Status.
func (p *Process) retry(ctx context.Context, rec *eventstore.Record, f func() error) error {
	delay := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			if rec != nil && attempt > 1 {
				p.setStatus(func(s *ProcessStatus) { s.Failing = nil })
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		attrs := []slog.Attr{slog.String("error", err.Error()), slog.Int("attempt", attempt)}
		if rec != nil {
			failure := &ProcessFailure{Event: *rec, Err: err.Error(), Attempts: attempt}
			p.setStatus(func(s *ProcessStatus) { s.Failing = failure })
			attrs = append(attrs, eventstore.LogAttrs(*rec))
		}
		p.log.LogAttrs(ctx, slog.LevelWarn, "command: process attempt failed, retrying", attrs...)
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, p.cfg.MaxBackoff)
	}
}
