// Package watermillbus connects eventfold to Watermill
// (github.com/ThreeDotsLabs/watermill): the event store's global log as a
// Watermill subscriber, a relay that forwards the log to any Watermill
// publisher (NATS JetStream, RabbitMQ, ...), a projection source that reads
// the log back from any Watermill subscriber, and command handling over
// Watermill's CQRS component.
//
// # Messages
//
// Every event travels as one message whose UUID is the event ID and whose
// payload is the event's data. Its metadata carries the rest (see the
// Metadata* constants): stream, version, position, type, content type,
// recorded time, the correlation ID under Watermill's own
// "correlation_id" key (so Watermill's CorrelationID middleware carries it
// on), the causation ID, and the event's free-form metadata. The relay also
// sets the position of the previous event of the log, so a consumer can
// tell a duplicate (ignored) from a gap (never applied; it reopens the
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
