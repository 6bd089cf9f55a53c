package watermillbus

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// Checkpoints stores the relay's progress. pgstore.Checkpoints implements
// it, keeping the checkpoint beside the log.
type Checkpoints interface {
	Load(ctx context.Context, name string) (eventstore.Position, error)
	Save(ctx context.Context, name string, pos eventstore.Position) error
}

// Locker grants exclusive leases across processes. pgstore.Locker
// implements it with PostgreSQL advisory locks.
type Locker interface {
	// Lock blocks until it holds the lease called name or ctx ends. The
	// returned context ends when the lease is lost or released.
	Lock(ctx context.Context, name string) (held context.Context, release func(), err error)
}

// RelayConfig configures a Relay. Store, Publisher, Topic and Checkpoints
// are required.
type RelayConfig struct {
	// Name identifies the relay's lease and checkpoint. Default "relay".
	Name string
	// Store is the event store whose global log is forwarded. For a store
	// with tenants pass its all-tenants reader (pgstore's AllTenants, or
	// eventstore.AllTenants of a decorated store), so that every tenant's
	// events are forwarded, each message naming its tenant
	// (MetadataTenant); the plain store forwards the default tenant's
	// only.
	Store eventstore.LogReader
	// Publisher receives the log: one message per event (see NewMessage),
	// or batch envelopes of up to EventsPerMessage events.
	Publisher message.Publisher
	// Topic is the topic every message is published to, so that a
	// consumer receives the whole log in order.
	Topic string
	// Checkpoints stores the position up to which the log was published.
	Checkpoints Checkpoints
	// Locker keeps exactly one relay of a Name active. Nil means no lease:
	// run only one relay then.
	Locker Locker
	// BatchSize is the most events read and published per round. Default 500.
	BatchSize int
	// EventsPerMessage is the most consecutive events packed into one
	// message, a batch envelope (see NewBatchMessage); a consumer then
	// acknowledges many events at once, which a broker that waits for each
	// acknowledgement before delivering more needs for throughput. An
	// envelope never spans two rounds, so BatchSize bounds it too, and a
	// round that reads a single event publishes it as a plain message.
	// Default 1: one message per event, readable by every consumer. Only
	// Sources of this version or later read envelopes: upgrade every
	// consumer of the topic before raising it.
	EventsPerMessage int
	// MaxMessageBytes closes an envelope before its payload would grow past
	// this many bytes (an event larger than that travels alone). Default
	// 512 KiB, half of NATS's default max_payload.
	MaxMessageBytes int
	// Poll tunes how the log is tailed.
	Poll projection.LogOptions
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem with c.
func (c RelayConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("watermillbus: RelayConfig.Store is required"))
	}
	if c.Publisher == nil {
		errs = append(errs, errors.New("watermillbus: RelayConfig.Publisher is required"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("watermillbus: RelayConfig.Topic is required"))
	}
	if c.Checkpoints == nil {
		errs = append(errs, errors.New("watermillbus: RelayConfig.Checkpoints is required"))
	}
	if c.BatchSize < 0 {
		errs = append(errs, errors.New("watermillbus: RelayConfig.BatchSize must not be negative"))
	}
	if c.EventsPerMessage < 0 {
		errs = append(errs, errors.New("watermillbus: RelayConfig.EventsPerMessage must not be negative"))
	}
	if c.MaxMessageBytes < 0 {
		errs = append(errs, errors.New("watermillbus: RelayConfig.MaxMessageBytes must not be negative"))
	}
	return errors.Join(errs...)
}

// Relay forwards the global log, in order, to a Watermill publisher. It
// publishes a batch, waits for the publisher to confirm it, then saves its
// checkpoint; after a crash it (or the relay that takes over its lease)
// publishes again from the checkpoint, so consumers may see an event twice
// but never miss one.
type Relay struct {
	cfg RelayConfig
	log *slog.Logger

	mu       sync.Mutex
	active   bool
	position eventstore.Position
}

// NewRelay validates cfg and returns a Relay.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "relay"
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.EventsPerMessage == 0 {
		cfg.EventsPerMessage = 1
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 512 << 10
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{cfg: cfg, log: log.With("relay", cfg.Name, "topic", cfg.Topic)}, nil
}

// Active reports whether this relay holds the lease and is forwarding, and
// the position it has published up to.
func (r *Relay) Active() (bool, eventstore.Position) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active, r.position
}

// Run forwards the log until ctx ends. Without the lease it waits for it;
// when the lease is lost it stops forwarding and waits again. Errors from
// the store or the publisher are retried with backoff.
func (r *Relay) Run(ctx context.Context) error {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		held, release := ctx, func() {}
		if r.cfg.Locker != nil {
			var err error
			held, release, err = r.cfg.Locker.Lock(ctx, "relay/"+r.cfg.Name)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				r.log.Warn("could not take the relay lease; retrying", "err", err)
				sleepCtx(ctx, backoff)
				continue
			}
		}
		_, from := r.Active()
		err := r.forward(held)
		release()
		r.setActive(false)
		if ctx.Err() != nil {
			break
		}
		if _, to := r.Active(); from.Before(to) {
			backoff = 50 * time.Millisecond // it got through since the last failure: a new outage starts short
		}
		if err != nil {
			args := []any{"err", err, "in", backoff}
			if pe := (*publishError)(nil); errors.As(err, &pe) {
				args = append(args, eventstore.LogAttrs(pe.first), "events", pe.events)
			}
			r.log.Warn("relay interrupted; retrying", args...)
			sleepCtx(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
		}
	}
	return ctx.Err()
}

func (r *Relay) setActive(a bool) {
	r.mu.Lock()
	r.active = a
	r.mu.Unlock()
}

// forward publishes from the checkpoint while ctx (the lease) lasts.
func (r *Relay) forward(ctx context.Context) error {
	pos, err := r.cfg.Checkpoints.Load(ctx, r.cfg.Name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.active, r.position = true, pos
	r.mu.Unlock()
	r.log.Info("relay active", "from", pos.String())
	feed, err := projection.LogSource(r.cfg.Store, &r.cfg.Poll).Open(ctx, pos)
	if err != nil {
		return err
	}
	defer feed.Close()
	for {
		recs, err := feed.Next(ctx, r.cfg.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return nil // lease lost or stopped
			}
			return err
		}
		if len(recs) == 0 {
			continue // caught up: nothing to publish, the checkpoint stands
		}
		msgs := r.pack(recs, pos)
		prev := recs[len(recs)-1].Position
		if ctx.Err() != nil {
			return nil // do not publish once the lease is gone
		}
		if err := r.cfg.Publisher.Publish(r.cfg.Topic, msgs...); err != nil {
			return &publishError{first: recs[0], events: len(recs), err: err}
		}
		pos = prev
		if err := r.cfg.Checkpoints.Save(ctx, r.cfg.Name, pos); err != nil && ctx.Err() == nil {
			return err
		}
		r.mu.Lock()
		r.position = pos
		r.mu.Unlock()
	}
}

// pack turns recs, which follow the event at prev, into messages: one per
// event, or envelopes of up to EventsPerMessage events and about
// MaxMessageBytes. An envelope of one is sent as a plain message.
func (r *Relay) pack(recs []eventstore.Record, prev eventstore.Position) []*message.Message {
	var msgs []*message.Message
	for len(recs) > 0 {
		n, size := 1, recordSize(&recs[0])
		for n < len(recs) && n < r.cfg.EventsPerMessage {
			size += recordSize(&recs[n])
			if size > r.cfg.MaxMessageBytes {
				break
			}
			n++
		}
		if n == 1 {
			msgs = append(msgs, NewMessage(recs[0], prev))
		} else {
			msgs = append(msgs, NewBatchMessage(recs[:n], prev))
		}
		prev = recs[n-1].Position
		recs = recs[n:]
	}
	return msgs
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// publishError is a batch the publisher failed to take. It keeps the
// batch's first event, where forwarding resumes, for the log line.
type publishError struct {
	first  eventstore.Record
	events int
	err    error
}

func (e *publishError) Error() string { return "watermillbus: relay publish: " + e.err.Error() }
func (e *publishError) Unwrap() error { return e.err }
