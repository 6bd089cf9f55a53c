package command

import (
	"context"
	"fmt"

	"github.com/eventfold/eventfold/eventstore"
)

// Snapshot is a stream's state, encoded, as of one version. A Handler that
// finds a snapshot reads only the events after Version.
type Snapshot struct {
	// StreamID is the stream the state was built from.
	StreamID string
	// Version is the stream version the state includes: the state is the
	// fold of events 1 to Version.
	Version int64
	// SchemaVersion is the version of the state's shape when it was
	// encoded (see Snapshots.SchemaVersion). A Handler ignores a snapshot
	// whose SchemaVersion differs from its own.
	SchemaVersion int
	// State is the encoded state.
	State []byte
}

// SnapshotStore keeps the latest snapshot of each stream. Implementations
// live in adapters/memstore and adapters/pgstore and pass the suite in
// command/commandtest. A SnapshotStore is safe for concurrent use.
//
// Snapshots are a cache: losing one only costs a longer load, so stores need
// not be durable beyond what their backend gives.
type SnapshotStore interface {
	// Load returns the latest snapshot of streamID, or an error matching
	// ErrSnapshotNotFound if there is none. The returned State is the
	// caller's.
	Load(ctx context.Context, streamID string) (Snapshot, error)

	// Save stores snap as the latest snapshot of its stream, unless the
	// stored one has a higher Version, in which case Save keeps it and
	// returns nil: snapshots never move backwards, whatever the order in
	// which concurrent writers save them. A snapshot of the same Version
	// replaces the stored one (its SchemaVersion may differ). Save does not
	// retain snap.State. A snapshot that ValidateSnapshot rejects fails
	// with that error, which matches eventstore.ErrInvalidInput.
	Save(ctx context.Context, snap Snapshot) error
}

// ValidateSnapshot checks a snapshot before it is saved: a valid stream ID,
// a Version of at least 1 and a SchemaVersion of at least 1. It returns an
// *eventstore.InvalidInputError naming the first problem. SnapshotStore
// implementations call it at the start of Save.
func ValidateSnapshot(snap Snapshot) error {
	if err := eventstore.ValidateStreamID(snap.StreamID); err != nil {
		return err
	}
	if snap.Version < 1 {
		return &eventstore.InvalidInputError{Field: "snapshot version", Reason: fmt.Sprintf("%d is less than 1", snap.Version)}
	}
	if snap.SchemaVersion < 1 {
		return &eventstore.InvalidInputError{Field: "snapshot schema version", Reason: fmt.Sprintf("%d is less than 1", snap.SchemaVersion)}
	}
	return nil
}

// SnapshotPolicy decides, after an append, whether the Handler saves a
// snapshot of the new state. version is the stream's version after the
// append and snapshotVersion the version of the snapshot the state was
// loaded from, 0 if none.
type SnapshotPolicy func(streamID string, version, snapshotVersion int64) bool

// EveryN returns a SnapshotPolicy that saves a snapshot once at least n
// events were appended since the last one. n below 1 means 1.
func EveryN(n int64) SnapshotPolicy {
	n = max(n, 1)
	return func(_ string, version, snapshotVersion int64) bool {
		return version-snapshotVersion >= n
	}
}

// DefaultSnapshotEvery is the n of the default policy, EveryN(100).
const DefaultSnapshotEvery = 100

// Snapshots turns on snapshots for a Handler (see Options.Snapshots).
type Snapshots struct {
	// Store keeps the snapshots. Required.
	Store SnapshotStore

	// SchemaVersion is the version of the state type's shape. Change it
	// whenever the state type or Evolve changes in a way that makes old
	// snapshots wrong; snapshots of any other version are then ignored and
	// the state is rebuilt from the events. Zero means 1.
	SchemaVersion int

	// Policy decides when to save a snapshot. Nil means
	// EveryN(DefaultSnapshotEvery).
	Policy SnapshotPolicy

	// Codec encodes the state. Nil means JSONCodec, which only sees
	// exported fields: the state must round-trip through the codec
	// unchanged, or loads from snapshots will be wrong. When the
	// Handler's Registry encodes with a ShreddingCodec, the Handler also
	// encrypts the encoded state under the keys of the subjects the
	// stream names, so forgetting any of them makes the snapshot
	// unreadable and the stream is loaded from its events.
	Codec Codec
}
