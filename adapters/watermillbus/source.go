package watermillbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

var _ projection.Source = (*Source)(nil)

// ErrGap reports a message whose previous position is not the last one
// received: an event in between is missing (or arrives out of order). It is
// never applied; the projection runner reopens the subscription from its
// checkpoint.
var ErrGap = errors.New("watermillbus: gap in the log")

// Source is a projection.Source that reads the log from a Watermill
// subscriber, such as one of NATS JetStream or RabbitMQ fed by a Relay. It
// reads plain messages and batch envelopes, checks every message against
// the one before (messages carry the previous event's position), drops
// duplicate events, refuses gaps, and acknowledges a message only after the
// runner has committed every event in it, so a crash never loses an event
// the broker considers delivered.
type Source struct {
	sub        message.Subscriber
	topic      string
	allTenants bool
}

var _ eventstore.AllTenantsView = (*Source)(nil)

// SourceOptions configures a Source. A nil *SourceOptions means all
// defaults.
type SourceOptions struct {
	// AllTenants says the topic carries every tenant's events: its relay
	// reads the store's all-tenants view (as `eventfold relay` does). A
	// projection runner with no Config.Tenant then records that it reads
	// every tenant's log, and `eventfold projections status` and the console
	// measure its lag against that log's head instead of the default
	// tenant's. False means the relay reads one tenant's log.
	AllTenants bool
}

// NewSource returns a Source reading topic from sub. Each Open subscribes
// anew; give each projection runner its own consumer group or durable
// name through the subscriber's configuration.
func NewSource(sub message.Subscriber, topic string, opts *SourceOptions) *Source {
	s := &Source{sub: sub, topic: topic}
	if opts != nil {
		s.allTenants = opts.AllTenants
	}
	return s
}

// ReadsAllTenants implements eventstore.AllTenantsView: it reports
// SourceOptions.AllTenants, as a broker cannot tell what its relay reads.
func (s *Source) ReadsAllTenants() bool { return s.allTenants }

// Open implements projection.Source.
func (s *Source) Open(ctx context.Context, after eventstore.Position) (projection.Feed, error) {
	ctx, cancel := context.WithCancel(ctx)
	msgs, err := s.sub.Subscribe(ctx, s.topic)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watermillbus: subscribe %q: %w", s.topic, err)
	}
	return &brokerFeed{msgs: msgs, cancel: cancel, last: after, committed: after}, nil
}

// pendingMsg is a message whose records were accepted; pos is the
// position of its last record, so it is acked once pos is committed.
type pendingMsg struct {
	msg *message.Message
	pos eventstore.Position
}

type brokerFeed struct {
	msgs   <-chan *message.Message
	cancel context.CancelFunc
	last   eventstore.Position // the position of the last record accepted, or the one opened after
	moved  bool                // a record was accepted since Open
	idle   bool                // an empty result was returned since the last records
	ready  []eventstore.Record // accepted from an envelope, not yet handed out

	mu        sync.Mutex
	pending   []pendingMsg        // accepted, not yet committed
	dups      []pendingMsg        // redelivered copies of pending messages
	committed eventstore.Position // the last position committed
}

// Next returns the records available now, blocking for the first.
func (f *brokerFeed) Next(ctx context.Context, max int) ([]eventstore.Record, error) {
	if max <= 0 {
		max = 500
	}
	var out []eventstore.Record
	for len(out) < max {
		if len(f.ready) > 0 {
			n := min(max-len(out), len(f.ready))
			out = append(out, f.ready[:n]...)
			f.ready = f.ready[n:]
			continue
		}
		var msg *message.Message
		var ok bool
		if len(out) == 0 {
			wait := 10 * time.Millisecond
			if f.idle {
				wait = 250 * time.Millisecond
			}
			select {
			case msg, ok = <-f.msgs:
			case <-time.After(wait):
				f.idle = true // report having caught up
				return nil, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		} else {
			select {
			case msg, ok = <-f.msgs:
			default:
				return out, nil
			}
		}
		if !ok {
			if len(out) > 0 {
				return out, nil
			}
			return nil, errors.New("watermillbus: subscription closed")
		}
		recs, prev, err := Records(msg)
		if err != nil {
			msg.Nack()
			return out, err
		}
		if err := f.accept(msg, recs, prev); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// accept checks msg's records, which follow the event at prev, against
// the last record accepted: those at or before it are duplicates, dropped
// one by one (an envelope a relay packed differently after a restart may
// overlap what came before); the first new one must follow it (or, before
// any was accepted, an event before the position opened after), or the
// message is refused as a gap. The new records go to f.ready.
func (f *brokerFeed) accept(msg *message.Message, recs []eventstore.Record, prev eventstore.Position) error {
	k := 0
	for k < len(recs) && !f.last.Before(recs[k].Position) {
		k++
	}
	lastPos := recs[len(recs)-1].Position
	if k == len(recs) {
		// Nothing new. Acked now only if it is committed: acking a copy
		// acks the message, and a broker that keeps its consumer across
		// restarts would then never send an uncommitted event again.
		f.mu.Lock()
		if f.committed.Before(lastPos) {
			f.dups = append(f.dups, pendingMsg{msg: msg, pos: lastPos})
		} else {
			msg.Ack()
		}
		f.mu.Unlock()
		return nil
	}
	if k > 0 {
		prev = recs[k-1].Position
	}
	// The feed may be opened after a position no event has (a checkpoint
	// taken from another view of the log): the first event after it then
	// follows an earlier one, and nothing lies in between.
	if prev != f.last && (f.moved || !prev.Before(f.last)) {
		msg.Nack()
		return fmt.Errorf("%w: message %s: event %s at %s follows %s, but the last event received is at %s",
			ErrGap, msg.UUID, recs[k].ID, recs[k].Position, prev, f.last)
	}
	f.idle, f.moved = false, true
	f.last = lastPos
	f.ready = append(f.ready, recs[k:]...)
	f.mu.Lock()
	f.pending = append(f.pending, pendingMsg{msg: msg, pos: lastPos})
	f.mu.Unlock()
	return nil
}

// Commit acknowledges every message whose records are all at or before
// pos.
func (f *brokerFeed) Commit(_ context.Context, pos eventstore.Position) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for n < len(f.pending) && !pos.Before(f.pending[n].pos) {
		f.pending[n].msg.Ack()
		n++
	}
	f.pending = f.pending[n:]
	kept := f.dups[:0]
	for _, d := range f.dups {
		if pos.Before(d.pos) {
			kept = append(kept, d)
		} else {
			d.msg.Ack()
		}
	}
	f.dups = kept
	if f.committed.Before(pos) {
		f.committed = pos
	}
	return nil
}

// Close nacks what was not committed, so the broker sends it again at
// once, and ends the subscription.
func (f *brokerFeed) Close() error {
	f.mu.Lock()
	for _, p := range f.pending {
		p.msg.Nack()
	}
	for _, d := range f.dups {
		d.msg.Nack()
	}
	f.pending, f.dups, f.ready = nil, nil, nil
	f.mu.Unlock()
	f.cancel()
	return nil
}
