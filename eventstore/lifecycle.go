package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrStreamDeleted reports an append to, or a read of, a stream that was
// hard-deleted (tombstoned): it can never be appended to again. Check with
// errors.Is.
var ErrStreamDeleted = errors.New("eventstore: stream deleted")

// DeleteMode says how DeleteStream deletes a stream.
type DeleteMode int

const (
	// SoftDelete appends a deletion marker to the stream and hides every
	// event up to it from ReadStream. The stream reads as not found and may
	// be recreated: an append with NoStream, Any or the marker's exact
	// version continues its versions after the marker.
	SoftDelete DeleteMode = iota
	// HardDelete removes the stream's events and appends a tombstone:
	// every later append and read of the stream fails with
	// ErrStreamDeleted.
	HardDelete
)

func (m DeleteMode) String() string {
	if m == HardDelete {
		return "hard"
	}
	return "soft"
}

// StreamLifecycle is implemented by stores that delete and truncate
// streams (see "Stream lifecycle" in the package doc). Every operation is
// confined to the store view's tenant, and every one that changes a stream
// appends a lifecycle event ([LifecycleEventOf]) to the global log in the
// same transaction, so readers of the log learn of it in order.
type StreamLifecycle interface {
	Store
	// DeleteStream deletes the stream if it is where expected says;
	// otherwise it changes nothing and returns a *ConcurrencyError. A
	// soft-deleted stream counts as absent for NoStream and StreamExists,
	// and as at its marker's version for Exact (see AllowsLifecycle). A
	// soft delete of a stream without readable events fails with
	// ErrStreamNotFound; a hard delete of a stream that never existed
	// tombstones its ID. Deleting a tombstoned stream fails with
	// ErrStreamDeleted. It returns the position of the marker or
	// tombstone.
	DeleteStream(ctx context.Context, streamID string, expected ExpectedVersion, mode DeleteMode) (Position, error)

	// TruncateStream hides the stream's events with a version below
	// before from ReadStream, for example once a snapshot holds them. It
	// leaves the stream's version as it is. before runs from 1 to the
	// stream's version: the last event stays readable (a soft delete
	// hides it). A before at or below an earlier truncation changes
	// nothing and returns the zero Position. A stream without readable
	// events fails with ErrStreamNotFound, a tombstoned one with
	// ErrStreamDeleted, and a before above the version with an
	// *InvalidInputError. It returns the position of the truncation
	// event, appended to the stream's metadata stream.
	TruncateStream(ctx context.Context, streamID string, before int64) (Position, error)

	// SetStreamMetadata replaces the stream's retention settings, which
	// ReadStream applies from then on, and appends a StreamMetadataType
	// event to the stream's metadata stream. The stream need not exist
	// yet; a tombstoned one fails with ErrStreamDeleted. It returns the
	// event's position.
	SetStreamMetadata(ctx context.Context, streamID string, meta StreamMetadata) (Position, error)

	// ReadStreamMetadata returns the stream's retention settings: the
	// zero StreamMetadata when none were set. A tombstoned stream fails
	// with ErrStreamDeleted.
	ReadStreamMetadata(ctx context.Context, streamID string) (StreamMetadata, error)
}

// StreamMetadata is a stream's retention: which of its events ReadStream
// returns. The events it hides stay in the store, and in ReadAll, until a
// Reclaimer removes them. A stream whose events retention hides all reads
// as empty, not as not found: it still exists for appends.
type StreamMetadata struct {
	// MaxAge hides events recorded longer ago than this. Zero means no
	// limit.
	MaxAge time.Duration `json:"max_age,omitempty"`
	// MaxCount hides all but the stream's last MaxCount events. Zero
	// means no limit.
	MaxCount int64 `json:"max_count,omitempty"`
}

// Validate reports an *InvalidInputError when a limit is negative.
func (m StreamMetadata) Validate() error {
	if m.MaxAge < 0 {
		return invalid("max age", "must not be negative")
	}
	if m.MaxCount < 0 {
		return invalid("max count", "must not be negative")
	}
	return nil
}

// FirstVersion returns the first version of a stream at version, whose
// events before truncateBefore are truncated, that m's MaxCount lets
// ReadStream return.
func (m StreamMetadata) FirstVersion(version, truncateBefore int64) int64 {
	if m.MaxCount > 0 && version-m.MaxCount+1 > truncateBefore {
		return version - m.MaxCount + 1
	}
	return truncateBefore
}

// Reclaimer is implemented by stores that reclaim the space of events no
// ReadStream returns any more: soft-deleted, truncated, or past their
// stream's retention.
type Reclaimer interface {
	// ReclaimStreams removes those events of the view's tenant (of every
	// tenant, on an all-tenants view) from the store and from ReadAll,
	// except each stream's last event, which keeps its version, and
	// reports how many it removed. Readers of the log learned of each
	// removal from the lifecycle event before it; retention announces
	// none. A ReclaimJob runs it periodically.
	ReclaimStreams(ctx context.Context) (int64, error)
}

// Lifecycle returns s's stream lifecycle operations (see As). It fails
// with an error matching errors.ErrUnsupported when s has no
// StreamLifecycle.
func Lifecycle(s Store) (StreamLifecycle, error) {
	l, ok := As[StreamLifecycle](s)
	if !ok {
		return nil, unsupported(s, "has no stream lifecycle")
	}
	return l, nil
}

// Lifecycle event types. Stores append them; applications cannot
// (ValidateAppend refuses types starting with "$stream.").
const (
	// StreamDeletedType is the type of the marker a soft delete appends
	// to the stream itself.
	StreamDeletedType = "$stream.deleted"
	// StreamTombstoneType is the type of the tombstone a hard delete
	// appends to the stream itself, as its last version.
	StreamTombstoneType = "$stream.tombstone"
	// StreamTruncatedType is the type of the event a TruncateStream
	// appends to the stream's metadata stream.
	StreamTruncatedType = "$stream.truncated"
	// StreamMetadataType is the type of the event a SetStreamMetadata
	// appends to the stream's metadata stream.
	StreamMetadataType = "$stream.metadata"
)

// lifecycleTypePrefix starts every type reserved for lifecycle events.
const lifecycleTypePrefix = "$stream."

// MetadataStreamID returns the ID of the stream that holds the lifecycle
// events of streamID: "$$" followed by streamID. Applications should not
// append to streams whose ID starts with "$$".
func MetadataStreamID(streamID string) string { return "$$" + streamID }

// LifecycleEvent is what a lifecycle event tells readers of the log.
type LifecycleEvent struct {
	// StreamID is the stream deleted or truncated, in Record.Tenant's
	// tenant.
	StreamID string `json:"stream_id"`
	// Type is StreamDeletedType, StreamTombstoneType, StreamTruncatedType,
	// StreamMetadataType or StreamArchivedType.
	Type string `json:"-"`
	// Version is the stream's version when the operation ran, before any
	// marker or tombstone.
	Version int64 `json:"version"`
	// Before is the first version readable afterwards: events with a
	// lower version are gone. For a delete or an archive it is Version
	// plus two, after the marker or tombstone. Zero for StreamMetadataType.
	Before int64 `json:"before,omitempty"`
	// Metadata is the stream's new retention, for StreamMetadataType.
	Metadata *StreamMetadata `json:"metadata,omitempty"`
}

// Deleted reports whether e deletes its stream, softly or for good: a
// read model drops what it keeps for the stream.
func (e LifecycleEvent) Deleted() bool {
	return e.Type == StreamDeletedType || e.Type == StreamTombstoneType
}

// Hard reports whether e is a tombstone: the stream is gone for good.
func (e LifecycleEvent) Hard() bool { return e.Type == StreamTombstoneType }

// Data returns e encoded as a lifecycle event's data.
func (e LifecycleEvent) Data() []byte {
	b, _ := json.Marshal(e) // cannot fail: strings and numbers
	return b
}

// LifecycleEventOf reports whether rec is a lifecycle event and, if so,
// what it says. Projections call it (or use projection's lifecycle
// handling) to drop or rewrite what they keep for a deleted or truncated
// stream.
func LifecycleEventOf(rec Record) (LifecycleEvent, bool) {
	switch rec.Type {
	case StreamDeletedType, StreamTombstoneType, StreamTruncatedType, StreamMetadataType, StreamArchivedType:
	default:
		return LifecycleEvent{}, false
	}
	var e LifecycleEvent
	if err := json.Unmarshal(rec.Data, &e); err != nil || e.StreamID == "" {
		return LifecycleEvent{}, false
	}
	e.Type = rec.Type
	return e, true
}

// AllowsLifecycle reports whether a stream at version, with readable
// events or not (readable is false for a soft-deleted or fully truncated
// stream, and for one that does not exist), satisfies e: NoStream and
// StreamExists look at whether the stream is readable, Exact at its
// version. Stores with a StreamLifecycle check appends and deletes with it.
func (e ExpectedVersion) AllowsLifecycle(version int64, readable bool) bool {
	switch e {
	case Any:
		return true
	case StreamExists:
		return readable
	case NoStream:
		return !readable
	default:
		return int64(e) == version
	}
}

// ValidateTruncate checks the arguments of TruncateStream before anything
// is read: the stream ID and before, which must be at least 1.
func ValidateTruncate(streamID string, before int64) error {
	if err := ValidateLifecycleStreamID(streamID); err != nil {
		return err
	}
	if before < 1 {
		return invalid("before", fmt.Sprintf("%d is below the first version, 1", before))
	}
	return nil
}

// ValidateLifecycleStreamID checks the stream ID given to a lifecycle
// operation: a valid stream ID whose metadata stream ID is valid too.
func ValidateLifecycleStreamID(streamID string) error {
	if err := ValidateStreamID(streamID); err != nil {
		return err
	}
	if len(MetadataStreamID(streamID)) > MaxStreamIDBytes {
		return invalid("stream ID", fmt.Sprintf("is longer than %d bytes, which its metadata stream ID needs", MaxStreamIDBytes-2))
	}
	return nil
}

// ValidateDelete checks the arguments of DeleteStream.
func ValidateDelete(streamID string, expected ExpectedVersion, mode DeleteMode) error {
	if err := ValidateLifecycleStreamID(streamID); err != nil {
		return err
	}
	if mode != SoftDelete && mode != HardDelete {
		return invalid("delete mode", fmt.Sprintf("%d is neither SoftDelete nor HardDelete", int(mode)))
	}
	return expected.Validate()
}

func isLifecycleType(typ string) bool { return strings.HasPrefix(typ, lifecycleTypePrefix) }
