package watermillbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

var _ message.Subscriber = (*LogSubscriber)(nil)

// TopicAll is the topic whose subscriptions receive the whole log.
const TopicAll = "$all"

// InTopic reports whether a subscription to topic receives the events of
// stream: topic is TopicAll, or the stream ID is topic or begins with topic
// followed by "-" (the stream's category, as in "order" for "order-42").
func InTopic(topic, stream string) bool {
	if topic == TopicAll || stream == topic {
		return true
	}
	rest, ok := strings.CutPrefix(stream, topic)
	return ok && strings.HasPrefix(rest, "-")
}

// LogSubscriberOptions configures a LogSubscriber. A nil value means the
// defaults.
type LogSubscriberOptions struct {
	// From returns where a subscription to topic starts; the log after that
	// position is delivered. Nil starts every subscription at the beginning.
	From func(ctx context.Context, topic string) (eventstore.Position, error)
	// Match reports whether a subscription to topic receives rec. Nil
	// means InTopic(topic, rec.StreamID): topics are stream categories.
	Match func(topic string, rec eventstore.Record) bool
	// Poll tunes how the log is tailed.
	Poll projection.LogOptions
	// NackDelay is the wait before a nacked message is sent again.
	// Default 100ms.
	NackDelay time.Duration
	// ReadRetries is how many reads of the log in a row may fail before
	// the subscription ends: it logs the error at Error and closes its
	// channel. 0 means 10; a negative value retries forever.
	ReadRetries int
	// MaxRetryDelay caps the wait between failed reads, which starts at
	// 100ms and doubles. Default 5s.
	MaxRetryDelay time.Duration
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// LogSubscriber is the event store's global log as a Watermill
// message.Subscriber. A topic is a stream category (see InTopic and
// LogSubscriberOptions.Match); TopicAll is the whole log. Each subscription
// tails the log gap-safely and sends one message per matching event, in log
// order, waiting for each message's ack before the next (a nack sends it
// again), so handlers on a Watermill Router see the log in order. A
// message's context ends when it is acked or nacked. It holds no database
// transaction open while handlers run.
type LogSubscriber struct {
	store eventstore.LogReader
	opts  LogSubscriberOptions
	log   *slog.Logger

	mu     sync.Mutex
	closed bool
	next   uint64
	cancel map[uint64]context.CancelFunc // of the running subscriptions
	wg     sync.WaitGroup
}

// NewLogSubscriber returns a subscriber of store's global log: a Store, a
// tenant view or an all-tenants reader.
func NewLogSubscriber(store eventstore.LogReader, opts *LogSubscriberOptions) *LogSubscriber {
	s := &LogSubscriber{store: store, cancel: map[uint64]context.CancelFunc{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.NackDelay <= 0 {
		s.opts.NackDelay = 100 * time.Millisecond
	}
	if s.opts.ReadRetries == 0 {
		s.opts.ReadRetries = 10
	}
	if s.opts.MaxRetryDelay <= 0 {
		s.opts.MaxRetryDelay = 5 * time.Second
	}
	if s.opts.Match == nil {
		s.opts.Match = func(topic string, rec eventstore.Record) bool { return InTopic(topic, rec.StreamID) }
	}
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("watermillbus: subscriber closed")

// Subscribe implements message.Subscriber. The channel closes when ctx
// ends, the subscriber is closed, or reading the log failed ReadRetries
// times in a row (logged at Error).
func (s *LogSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic == "" {
		return nil, fmt.Errorf("watermillbus: subscribe: the topic is empty (TopicAll is the whole log)")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	id := s.next
	s.next++
	s.cancel[id] = cancel
	s.wg.Add(1)
	s.mu.Unlock()
	release := func() {
		cancel()
		s.mu.Lock()
		delete(s.cancel, id)
		s.mu.Unlock()
	}

	from := eventstore.Position{}
	if s.opts.From != nil {
		var err error
		if from, err = s.opts.From(ctx, topic); err != nil {
			release()
			s.wg.Done()
			return nil, err
		}
	}
	out := make(chan *message.Message)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer release() // before the channel closes, so no trace of it is left
		err := s.deliver(ctx, topic, from, out)
		if err != nil && ctx.Err() == nil {
			s.log.Error("log subscription stopped", "topic", topic, "err", err)
		}
	}()
	return out, nil
}

// deliver sends the events of topic after from until ctx ends or reading
// fails ReadRetries times in a row.
func (s *LogSubscriber) deliver(ctx context.Context, topic string, from eventstore.Position, out chan<- *message.Message) error {
	feed, err := projection.LogSource(s.store, &s.opts.Poll).Open(ctx, from)
	if err != nil {
		return err
	}
	defer feed.Close()
	prev := from
	failures := 0
	for ctx.Err() == nil {
		recs, err := feed.Next(ctx, 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			if s.opts.ReadRetries > 0 && failures >= s.opts.ReadRetries {
				return fmt.Errorf("reading the log failed %d times in a row: %w", failures, err)
			}
			// The database may be restarting.
			s.log.Warn("reading the log failed; retrying", "topic", topic, "attempt", failures, "err", err)
			if !sleep(ctx, s.retryDelay(failures)) {
				return nil
			}
			continue
		}
		failures = 0
		for _, rec := range recs {
			if !s.opts.Match(topic, rec) {
				continue
			}
			if err := s.send(ctx, rec, prev, out); err != nil {
				return nil
			}
			prev = rec.Position
		}
	}
	return nil
}

// retryDelay is the wait after the nth failed read in a row: 100ms
// doubling, up to MaxRetryDelay.
func (s *LogSubscriber) retryDelay(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < s.opts.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, s.opts.MaxRetryDelay)
}

// sleep waits d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// send delivers one message and waits for its ack, resending on nack.
func (s *LogSubscriber) send(ctx context.Context, rec eventstore.Record, prev eventstore.Position, out chan<- *message.Message) error {
	for {
		acked, err := s.sendOnce(ctx, rec, prev, out)
		if err != nil || acked {
			return err
		}
		if !sleep(ctx, s.opts.NackDelay) {
			return ctx.Err()
		}
	}
}

// sendOnce delivers one message under its own context, which ends when the
// message is acked or nacked, and reports whether it was acked.
func (s *LogSubscriber) sendOnce(ctx context.Context, rec eventstore.Record, prev eventstore.Position, out chan<- *message.Message) (bool, error) {
	msgCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	msg := newPublishedMessage(rec, prev)
	msg.SetContext(msgCtx)
	select {
	case out <- msg:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case <-msg.Acked():
		return true, nil
	case <-msg.Nacked():
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
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
