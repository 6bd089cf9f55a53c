package watermillbus

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/eventstore"
)

// Metadata keys of an event message.
const (
	// MetadataTenant is the event's tenant; absent for the default tenant.
	MetadataTenant        = "eventfold_tenant"
	MetadataStreamID      = "eventfold_stream_id"
	MetadataVersion       = "eventfold_stream_version"
	MetadataPosition      = "eventfold_position"
	MetadataPrevPosition  = "eventfold_prev_position"
	MetadataType          = "eventfold_type"
	MetadataContentType   = "eventfold_content_type"
	MetadataRecordedAt    = "eventfold_recorded_at"
	MetadataCorrelationID = "correlation_id" // Watermill's middleware.CorrelationIDMetadataKey
	MetadataCausationID   = "causation_id"
	// MetadataEventID is the event ID of a message whose UUID is not the
	// event ID: an event appended by a Publisher, which a LogSubscriber
	// delivers under the published message's UUID.
	MetadataEventID = "eventfold_event_id"
	// MetadataMessageUUID is the key, in an event's free-form metadata, of
	// the UUID of the Watermill message a Publisher appended it for.
	MetadataMessageUUID = "eventfold_message_uuid"
	// MetadataExtraPrefix prefixes an entry of the event's free-form
	// metadata whose key is reserved (see IsReservedKey), so it does not
	// collide with eventfold's own. Every other entry keeps its key.
	MetadataExtraPrefix = "eventfold_x_"
	// metadataPrefix begins every key eventfold reserves for itself.
	metadataPrefix = "eventfold_"
)

// IsReservedKey reports whether a message metadata key is eventfold's own:
// it begins with "eventfold_", or is MetadataCorrelationID or
// MetadataCausationID. Every other key is the event's free-form metadata.
func IsReservedKey(key string) bool {
	return strings.HasPrefix(key, metadataPrefix) || key == MetadataCorrelationID || key == MetadataCausationID
}

// NewMessage returns the message for rec. prev is the position of the
// event before rec in the log (the zero Position when unknown).
func NewMessage(rec eventstore.Record, prev eventstore.Position) *message.Message {
	msg := message.NewMessage(rec.ID, rec.Data)
	md := msg.Metadata
	if rec.Tenant != "" {
		md.Set(MetadataTenant, rec.Tenant)
	}
	md.Set(MetadataStreamID, rec.StreamID)
	md.Set(MetadataVersion, strconv.FormatInt(rec.Version, 10))
	md.Set(MetadataPosition, rec.Position.String())
	md.Set(MetadataPrevPosition, prev.String())
	md.Set(MetadataType, rec.Type)
	md.Set(MetadataContentType, rec.ContentType)
	md.Set(MetadataRecordedAt, rec.RecordedAt.UTC().Format(time.RFC3339Nano))
	if rec.Metadata.CorrelationID != "" {
		md.Set(MetadataCorrelationID, rec.Metadata.CorrelationID)
	}
	if rec.Metadata.CausationID != "" {
		md.Set(MetadataCausationID, rec.Metadata.CausationID)
	}
	for k, v := range rec.Metadata.Extra {
		if IsReservedKey(k) {
			k = MetadataExtraPrefix + k
		}
		md.Set(k, v)
	}
	return msg
}

// newPublishedMessage returns the message for rec that a LogSubscriber
// delivers: the one NewMessage makes, except that an event a Publisher
// appended comes under the published message's UUID (see
// MetadataEventID).
func newPublishedMessage(rec eventstore.Record, prev eventstore.Position) *message.Message {
	msg := NewMessage(rec, prev)
	if id := rec.Metadata.Extra[MetadataMessageUUID]; id != "" && id != rec.ID {
		msg.UUID = id
		msg.Metadata.Set(MetadataEventID, rec.ID)
		delete(msg.Metadata, MetadataExtraPrefix+MetadataMessageUUID)
	}
	return msg
}

// Record decodes an event message made by NewMessage. It returns the
// record and the position of the event before it in the log. A message
// without MetadataTenant is the default tenant's.
func Record(msg *message.Message) (rec eventstore.Record, prev eventstore.Position, err error) {
	md := msg.Metadata
	fail := func(key, reason string) (eventstore.Record, eventstore.Position, error) {
		return eventstore.Record{}, eventstore.Position{}, fmt.Errorf("watermillbus: message %s: metadata %s %s", msg.UUID, key, reason)
	}
	if md.Get(MetadataBatch) != "" {
		return fail(MetadataBatch, "is set: a batch envelope, decoded by Records")
	}
	rec.ID = msg.UUID
	if id := md.Get(MetadataEventID); id != "" {
		rec.ID = id
	}
	rec.Data = msg.Payload
	if rec.Tenant = md.Get(MetadataTenant); rec.Tenant != "" && eventstore.ValidateTenant(rec.Tenant) != nil {
		return fail(MetadataTenant, "is not a valid tenant ID")
	}
	if rec.StreamID = md.Get(MetadataStreamID); rec.StreamID == "" {
		return fail(MetadataStreamID, "is missing")
	}
	if rec.Type = md.Get(MetadataType); rec.Type == "" {
		return fail(MetadataType, "is missing")
	}
	rec.ContentType = md.Get(MetadataContentType)
	if rec.Version, err = strconv.ParseInt(md.Get(MetadataVersion), 10, 64); err != nil || rec.Version < 1 {
		return fail(MetadataVersion, "is not a version")
	}
	if rec.Position, err = eventstore.ParsePosition(md.Get(MetadataPosition)); err != nil {
		return fail(MetadataPosition, "is not a position")
	}
	if s := md.Get(MetadataPrevPosition); s != "" {
		if prev, err = eventstore.ParsePosition(s); err != nil {
			return fail(MetadataPrevPosition, "is not a position")
		}
	}
	if s := md.Get(MetadataRecordedAt); s != "" {
		if rec.RecordedAt, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fail(MetadataRecordedAt, "is not a time")
		}
	}
	rec.Metadata.CorrelationID = md.Get(MetadataCorrelationID)
	rec.Metadata.CausationID = md.Get(MetadataCausationID)
	rec.Metadata.Extra = extraMetadata(md)
	if rec.ID != msg.UUID {
		if rec.Metadata.Extra == nil {
			rec.Metadata.Extra = map[string]string{}
		}
		rec.Metadata.Extra[MetadataMessageUUID] = msg.UUID
	}
	return rec, prev, nil
}

// extraMetadata returns the entries of md that are not eventfold's own, and
// those under MetadataExtraPrefix without it; nil when there are none.
func extraMetadata(md message.Metadata) map[string]string {
	var extra map[string]string
	for k, v := range md {
		name, prefixed := strings.CutPrefix(k, MetadataExtraPrefix)
		if !prefixed && IsReservedKey(k) {
			continue
		}
		if extra == nil {
			extra = map[string]string{}
		}
		extra[name] = v
	}
	return extra
}
