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

var _ message.Subscriber = (*LogSubscriber)(nil)

// LogSubscriberOptions configures a LogSubscriber. A nil value means the
// defaults.
type LogSubscriberOptions struct {
	// From returns where a subscription to topic starts; the log after that
	// position is delivered. Nil starts every subscription at the beginning.
	From func(ctx context.Context, topic string) (eventstore.Position, error)
	// Poll tunes how the log is tailed.
	Poll projection.LogOptions
	// NackDelay is the wait before a nacked message is sent again.
	// Default 100ms.
	NackDelay time.Duration
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// LogSubscriber is the event store's global log as a Watermill
// message.Subscriber. Each subscription tails the log gap-safely and sends
// one message per event, in log order, waiting for each message's ack
// before the next (a nack sends it again), so handlers on a Watermill Router
// see the log in order. It holds no database transaction open while
// handlers run. The topic names the subscription; every topic receives the
// whole log.
type LogSubscriber struct {
	store eventstore.Store
	opts  LogSubscriberOptions
	log   *slog.Logger

	mu     sync.Mutex
	closed bool
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

// NewLogSubscriber returns a subscriber of store's global log.
func NewLogSubscriber(store eventstore.Store, opts *LogSubscriberOptions) *LogSubscriber {
	s := &LogSubscriber{store: store}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.NackDelay <= 0 {
		s.opts.NackDelay = 100 * time.Millisecond
	}
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("watermillbus: subscriber closed")

// Subscribe implements message.Subscriber. The channel closes when ctx ends
// or the subscriber is closed.
func (s *LogSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = append(s.cancel, cancel)
	s.wg.Add(1)
	s.mu.Unlock()

	from := eventstore.Position{}
	if s.opts.From != nil {
		var err error
		if from, err = s.opts.From(ctx, topic); err != nil {
			cancel()
			s.wg.Done()
			return nil, err
		}
	}
	out := make(chan *message.Message)
	go func() {
		defer s.wg.Done()
		defer close(out)
		err := s.deliver(ctx, from, out)
		if err != nil && ctx.Err() == nil {
			s.log.Error("log subscription stopped", "topic", topic, "err", err)
		}
	}()
	return out, nil
}

func (s *LogSubscriber) deliver(ctx context.Context, from eventstore.Position, out chan<- *message.Message) error {
	feed, err := projection.LogSource(s.store, &s.opts.Poll).Open(ctx, from)
	if err != nil {
		return err
	}
	defer feed.Close()
	prev := from
	for {
		recs, err := feed.Next(ctx, 0)
		if err != nil {
			for ctx.Err() == nil && err != nil { // the database may be restarting
				s.log.Warn("reading the log failed; retrying", "err", err)
				time.Sleep(s.opts.NackDelay)
				recs, err = feed.Next(ctx, 0)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		for _, rec := range recs {
			if err := s.send(ctx, rec, prev, out); err != nil {
				return nil
			}
			prev = rec.Position
		}
	}
}

// send delivers one message and waits for its ack, resending on nack.
func (s *LogSubscriber) send(ctx context.Context, rec eventstore.Record, prev eventstore.Position, out chan<- *message.Message) error {
	for {
		msg := NewMessage(rec, prev)
		msg.SetContext(ctx)
		select {
		case out <- msg:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-msg.Acked():
			return nil
		case <-msg.Nacked():
			select {
			case <-time.After(s.opts.NackDelay):
			case <-ctx.Done():
				return ctx.Err()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close ends every subscription and waits for them to stop.
func (s *LogSubscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.cancel {
		c()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
