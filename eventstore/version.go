package eventstore

import (
	"fmt"
	"strconv"
)

// ExpectedVersion states where a stream must be for an append to succeed.
// Use the constants Any, NoStream and StreamExists, or Exact.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's version, creating the stream if
	// needed.
	Any ExpectedVersion = -1
	// StreamExists appends only to a stream that has at least one event.
	StreamExists ExpectedVersion = -2
	// NoStream appends only if the stream does not exist yet. It equals
	// Exact(0): a stream with no events is at version 0.
	NoStream ExpectedVersion = 0
)

// Exact expects the stream to be at version v exactly (v events stored).
// Exact(0) is NoStream.
func Exact(v int64) ExpectedVersion { return ExpectedVersion(v) }

// Validate reports an error matching ErrInvalidInput if e is none of the
// forms above.
func (e ExpectedVersion) Validate() error {
	if e < StreamExists {
		return invalid("expected version", fmt.Sprintf("%d is not Any, StreamExists, NoStream or an exact version", int64(e)))
	}
	return nil
}

// Allows reports whether a stream at version actual (0 for none) satisfies e.
func (e ExpectedVersion) Allows(actual int64) bool {
	switch e {
	case Any:
		return true
	case StreamExists:
		return actual > 0
	default:
		return actual == int64(e)
	}
}

func (e ExpectedVersion) String() string {
	switch e {
	case Any:
		return "any"
	case StreamExists:
		return "stream exists"
	case NoStream:
		return "no stream"
	}
	return strconv.FormatInt(int64(e), 10)
}

// Direction is the order in which ReadStream returns events.
type Direction int

const (
	// Forward reads from lower to higher versions.
	Forward Direction = iota
	// Backward reads from higher to lower versions.
	Backward
)

// StreamEnd, as the from version of a backward read, starts at the stream's
// last event.
const StreamEnd int64 = 1<<63 - 1
