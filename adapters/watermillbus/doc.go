// Package watermillbus connects eventfold to Watermill
// (github.com/ThreeDotsLabs/watermill): the event store as a Watermill
// Pub/Sub (Publisher and LogSubscriber), a relay that forwards the log to
// any Watermill publisher (NATS JetStream, RabbitMQ, ...), a projection
// source that reads the log back from any Watermill subscriber, and command
// handling over Watermill's CQRS component.
//
// # The store as a Pub/Sub
//
// A topic is a stream category. Publisher appends each message published
// to a topic as an event of the stream of that name (or of the stream
// PublisherOptions.StreamID picks), and a LogSubscriber's subscription to a
// topic delivers, in log order, the events of the streams named by the
// topic or beginning with the topic and "-" (InTopic): "order" receives
// "order", "order-1" and "order-1-lines", not "orders-1". TopicAll
// receives the whole log; LogSubscriberOptions.Match sets another meaning,
// such as topic = event type. A subscription reads the whole log from its
// start (LogSubscriberOptions.From, by default the beginning) and passes
// over the events of other topics.
//
// Both pass Watermill's universal Pub/Sub test suite on PostgreSQL with
// these features: persistent, guaranteed order per subscription, new
// subscribers receive old messages, at-least-once delivery (a nack or a
// new subscription delivers again), no consumer groups, and a context of
// its own for each delivered message, which ends when it is acked or
// nacked or the subscription ends.
//
// A message published with Publisher comes back under its own UUID, with
// its payload and its metadata keys unchanged. The event's ID is derived
// from the stream and the message UUID (EventIDFor), so publishing a
// message again stores nothing, and the same message published to two
// topics is an event of each; the event ID travels as MetadataEventID.
//
// A read of the log that fails is retried after 100ms, doubling up to
// LogSubscriberOptions.MaxRetryDelay (5s), and logged at Warn. After
// ReadRetries (10) failures in a row the subscription logs the error at
// Error and closes its channel, which stops a Watermill Router handler
// reading it; a subscription whose context ends stops at once, waits
// included.
//
// # Messages
//
// Every event travels as one message whose UUID is the event ID (or, from
// a LogSubscriber, the UUID it was published with) and whose payload is the
// event's data. Its metadata carries the rest (see the Metadata*
// constants): stream, version, position, type, content type, recorded
// time, the correlation ID under Watermill's own "correlation_id" key (so
// Watermill's CorrelationID middleware carries it on), the causation ID,
// and the event's free-form metadata under its own keys. Keys beginning
// with "eventfold_" are eventfold's (IsReservedKey); a free-form entry with
// such a key travels under MetadataExtraPrefix. The relay also sets the
// position of the previous event of the log, so a consumer can tell a
// duplicate (ignored) from a gap (never applied; it reopens the
// subscription).
//
// With RelayConfig.EventsPerMessage above 1, the relay packs consecutive
// events into batch envelopes (NewBatchMessage): one message, marked with
// MetadataBatch, whose payload encodes every event with its own metadata
// and whose metadata chains it to the event before its first. Source reads
// both formats (Records); upgrade consumers before turning envelopes on.
//
// # In-process and distributed
//
// In one process, projection runners read the store directly
// (projection.LogSource) or through NewLogSubscriber; no broker is needed.
// Across processes, one Relay per log publishes it to a broker; several
// relays may run, and a lease (pgstore.Locker) keeps exactly one active,
// with takeover within seconds and redelivery from the relay's checkpoint,
// so consumers see duplicates at most, never gaps. Workers in other
// processes consume the broker with NewSource.
package watermillbus
