package eventstore

import (
	"context"
	"errors"
)

// ErrStreamArchived reports an append to, or a ReadStream of, a stream that
// was archived: its events moved to the store's archive, where
// ReadArchivedStream reads them, and it takes no more events. Check with
// errors.Is.
var ErrStreamArchived = errors.New("eventstore: stream archived")

// StreamArchivedType is the type of the marker ArchiveStream appends to
// the stream itself, as its last version.
const StreamArchivedType = "$stream.archived"

// StreamArchiver is implemented by stores that archive finished streams
// (see "Stream lifecycle" in the package doc): the stream's events leave
// the hot log for the store's archive, which keeps them readable. Every
// operation is confined to the store view's tenant.
type StreamArchiver interface {
	Store
	// ArchiveStream seals the stream if it is where expected says
	// (otherwise it changes nothing and returns a *ConcurrencyError):
	// it appends a StreamArchivedType marker at the version after the
	// stream's last, in the same transaction moves every event of the
	// stream still stored (truncated ones too, reclaimed ones not) to the
	// archive, and returns the marker's position. From then on ReadAll
	// leaves the moved events out and returns the marker; every append
	// to the stream fails with ErrStreamArchived, and so does ReadStream.
	// An append racing the archive either lands before the marker, and
	// is archived with the rest, or fails. A stream without readable
	// events fails with ErrStreamNotFound, a tombstoned one with
	// ErrStreamDeleted, an archived one with ErrStreamArchived. An
	// archived stream has no readable events: a soft delete or a
	// truncation of it fails with ErrStreamNotFound, while a hard delete
	// tombstones it and erases its archive too.
	ArchiveStream(ctx context.Context, streamID string, expected ExpectedVersion) (Position, error)

	// ReadArchivedStream returns up to limit (0 for all) of the archived
	// stream's events from version from on, in version order, as they
	// were recorded (positions included). A stream that is not archived
	// fails with ErrStreamNotFound, a tombstoned one with
	// ErrStreamDeleted.
	ReadArchivedStream(ctx context.Context, streamID string, from int64, limit int) ([]Record, error)
}

// Archiver returns s's stream archive operations (see As). It fails with
// an error matching errors.ErrUnsupported when s has no StreamArchiver.
func Archiver(s Store) (StreamArchiver, error) {
	a, ok := As[StreamArchiver](s)
	if !ok {
		return nil, unsupported(s, "has no stream archive")
	}
	return a, nil
}

// Archived reports whether e archives its stream: a read model may drop
// what it keeps for the stream, which ReadArchivedStream still reads.
func (e LifecycleEvent) Archived() bool { return e.Type == StreamArchivedType }

// ValidateArchive checks the arguments of ArchiveStream.
func ValidateArchive(streamID string, expected ExpectedVersion) error {
	if err := ValidateLifecycleStreamID(streamID); err != nil {
		return err
	}
	return expected.Validate()
}

// ValidateReadArchived checks the arguments of ReadArchivedStream.
func ValidateReadArchived(streamID string, limit int) error {
	if err := ValidateStreamID(streamID); err != nil {
		return err
	}
	if limit < 0 {
		return invalid("limit", "must not be negative")
	}
	return nil
}
