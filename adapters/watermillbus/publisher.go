package watermillbus

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/eventstore"
)

var _ message.Publisher = (*Publisher)(nil)

// ContentTypeBytes is the content type the Publisher gives a payload that
// is not JSON.
const ContentTypeBytes = "application/octet-stream"

// PublisherOptions configures a Publisher. A nil value means the defaults.
type PublisherOptions struct {
	// StreamID returns the stream a message published to topic is appended
	// to. Nil means the topic itself, so a LogSubscriber's subscription to
	// the topic receives it. A function routing to "<topic>-<id>" keeps
	// that true (see InTopic).
	StreamID func(topic string, msg *message.Message) string
	// EventType returns the event type of a message published to topic.
	// Nil means the message's MetadataType entry, or the topic when it has
	// none.
	EventType func(topic string, msg *message.Message) string
}

// Publisher appends Watermill messages to an event store, which makes the
// store, with a LogSubscriber, a complete Watermill Pub/Sub. Each message
// becomes one event of the stream PublisherOptions.StreamID names:
//
//   - its event ID is derived from the stream and the message UUID
//     (EventIDFor), so publishing a message again to the same stream stores
//     nothing, while the same message published to several topics is an
//     event in each; the message UUID, any string, is kept in the event's
//     metadata under MetadataMessageUUID, and a LogSubscriber delivers the
//     event with it;
//   - its payload is the event's data, with the content type from
//     MetadataContentType, or application/json when the payload is valid
//     JSON, or ContentTypeBytes;
//   - its metadata is the event's metadata: MetadataCorrelationID and
//     MetadataCausationID fill those fields, every key that is not
//     eventfold's own (IsReservedKey) is kept as a free-form entry, and
//     eventfold's other keys (stream, version, position, ...) are dropped,
//     since the store assigns them.
//
// A Publisher is safe for concurrent use. It does not close the store.
type Publisher struct {
	store eventstore.Store
	opts  PublisherOptions

	mu     sync.RWMutex // held for reading while publishing
	closed bool
}

// NewPublisher returns a Publisher appending to store.
func NewPublisher(store eventstore.Store, opts *PublisherOptions) *Publisher {
	p := &Publisher{store: store}
	if opts != nil {
		p.opts = *opts
	}
	if p.opts.StreamID == nil {
		p.opts.StreamID = func(topic string, _ *message.Message) string { return topic }
	}
	if p.opts.EventType == nil {
		p.opts.EventType = func(topic string, msg *message.Message) string {
			if t := msg.Metadata.Get(MetadataType); t != "" {
				return t
			}
			return topic
		}
	}
	return p
}

// ErrPublisherClosed is returned by Publish after Close.
var ErrPublisherClosed = errors.New("watermillbus: publisher closed")

// Publish implements message.Publisher: it appends msgs in order,
// consecutive messages bound for one stream in one append, under the
// context of the first message of each append. When it returns nil every
// message is stored. A message stored before is not stored again, so a
// failed Publish may be retried with the same messages.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrPublisherClosed
	}
	if topic == TopicAll {
		return fmt.Errorf("watermillbus: publish to %q: the topic names the whole log, not a stream", topic)
	}
	for len(msgs) > 0 {
		stream := p.opts.StreamID(topic, msgs[0])
		n := 1
		for n < len(msgs) && n < eventstore.MaxEventsPerAppend && p.opts.StreamID(topic, msgs[n]) == stream {
			n++
		}
		if err := p.append(topic, stream, msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

// append stores msgs in stream. When some of them are stored already (a
// retry of a Publish that failed part way), it appends them one by one, so
// those are replays.
func (p *Publisher) append(topic, stream string, msgs []*message.Message) error {
	events := make([]eventstore.Event, len(msgs))
	for i, msg := range msgs {
		ev, err := p.event(topic, stream, msg)
		if err != nil {
			return err
		}
		events[i] = ev
	}
	ctx := msgs[0].Context()
	_, err := p.store.Append(ctx, stream, eventstore.Any, events)
	if len(events) > 1 && errors.Is(err, eventstore.ErrDuplicateEvent) {
		for i := range events {
			if err := p.appendOne(msgs[i], stream, events[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("watermillbus: publish to %q: %w", topic, err)
	}
	return nil
}

func (p *Publisher) appendOne(msg *message.Message, stream string, ev eventstore.Event) error {
	if _, err := p.store.Append(msg.Context(), stream, eventstore.Any, []eventstore.Event{ev}); err != nil {
		return fmt.Errorf("watermillbus: publish message %s to stream %q: %w", msg.UUID, stream, err)
	}
	return nil
}

// event returns the event a message published to topic becomes.
func (p *Publisher) event(topic, stream string, msg *message.Message) (eventstore.Event, error) {
	if msg.UUID == "" {
		return eventstore.Event{}, fmt.Errorf("watermillbus: publish to %q: a message has an empty UUID", topic)
	}
	md := msg.Metadata
	contentType := md.Get(MetadataContentType)
	if contentType == "" {
		contentType = ContentTypeBytes
		if json.Valid(msg.Payload) {
			contentType = eventstore.ContentTypeJSON
		}
	}
	extra := extraMetadata(md)
	if extra == nil {
		extra = map[string]string{}
	}
	extra[MetadataMessageUUID] = msg.UUID
	return eventstore.Event{
		ID:          EventIDFor(stream, msg.UUID),
		Type:        p.opts.EventType(topic, msg),
		Data:        msg.Payload,
		ContentType: contentType,
		Metadata: eventstore.Metadata{
			CorrelationID: md.Get(MetadataCorrelationID),
			CausationID:   md.Get(MetadataCausationID),
			Extra:         extra,
		},
	}, nil
}

// eventIDNamespace is the UUID namespace of EventIDFor.
var eventIDNamespace = [16]byte{0x6f, 0x0b, 0x3c, 0x52, 0x9e, 0x1d, 0x4a, 0x7c, 0x8d, 0x25, 0x61, 0xe4, 0x0a, 0x93, 0xb7, 0x1f}

// EventIDFor returns the ID of the event a Publisher appends to stream for
// the message with UUID messageUUID: a name-based (version 5) UUID of both.
func EventIDFor(stream, messageUUID string) string {
	h := sha1.New()
	h.Write(eventIDNamespace[:])
	h.Write([]byte(stream))
	h.Write([]byte{0})
	h.Write([]byte(messageUUID))
	var id [16]byte
	copy(id[:], h.Sum(nil))
	id[6] = id[6]&0x0f | 0x50 // version 5
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	b := make([]byte, 0, 36)
	for i, part := range [][]byte{id[0:4], id[4:6], id[6:8], id[8:10], id[10:16]} {
		if i > 0 {
			b = append(b, '-')
		}
		b = hex.AppendEncode(b, part)
	}
	return string(b)
}

// Close implements message.Publisher: it waits for the Publish calls in
// progress, after which Publish fails with ErrPublisherClosed.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}
