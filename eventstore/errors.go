package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrConcurrency reports that a stream was not at the expected version
	// and nothing was appended. Check with errors.Is; ConcurrencyError holds
	// the details.
	ErrConcurrency = errors.New("eventstore: concurrency conflict")

	// ErrStreamNotFound reports a read of a stream that has no events.
	// Check with errors.Is.
	ErrStreamNotFound = errors.New("eventstore: stream not found")

	// ErrInvalidInput reports an argument that was rejected before anything
	// was written. Check with errors.Is; InvalidInputError names the field.
	ErrInvalidInput = errors.New("eventstore: invalid input")

	// ErrDuplicateEvent reports an event ID that is already stored by a
	// different append. Nothing was appended. Check with errors.Is.
	ErrDuplicateEvent = errors.New("eventstore: duplicate event ID")
)

// ConcurrencyError is returned by Append when the stream is not at the
// expected version. It matches ErrConcurrency.
type ConcurrencyError struct {
	StreamID string
	Expected ExpectedVersion
	// Actual is the stream's version when the append was tried; 0 when the
	// stream did not exist.
	Actual int64
}

func (e *ConcurrencyError) Error() string {
	return fmt.Sprintf("eventstore: concurrency conflict on stream %q: expected %s, actual version %d", e.StreamID, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConcurrency) true.
func (e *ConcurrencyError) Is(target error) bool { return target == ErrConcurrency }

// InvalidInputError names an argument that was rejected and why. It matches
// ErrInvalidInput.
type InvalidInputError struct {
	Field  string // for example "stream ID" or "events[2].type"
	Reason string
	Err    error // the backend's error, if the backend rejected the value; may be nil
}

func (e *InvalidInputError) Error() string {
	return "eventstore: invalid " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InvalidInputError) Is(target error) bool { return target == ErrInvalidInput }

// Unwrap returns the backend's error, if any.
func (e *InvalidInputError) Unwrap() error { return e.Err }

func invalid(field, reason string) error {
	return &InvalidInputError{Field: field, Reason: reason}
}
