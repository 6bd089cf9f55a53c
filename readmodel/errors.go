package readmodel

import "errors"

var (
	// ErrNotFound reports a document that does not exist or was deleted.
	// Check with errors.Is.
	ErrNotFound = errors.New("readmodel: document not found")

	// ErrInvalidInput reports an argument rejected before anything was
	// read or written. Check with errors.Is; InvalidInputError names the
	// field.
	ErrInvalidInput = errors.New("readmodel: invalid input")

	// ErrCheckpointMismatch reports a conditional Batch (see
	// Batch.IfCheckpoint) whose expected checkpoint was not the stored one;
	// nothing was written. Check with errors.Is.
	ErrCheckpointMismatch = errors.New("readmodel: checkpoint mismatch")
)

// InvalidInputError names an argument that was rejected and why. It matches
// ErrInvalidInput.
type InvalidInputError struct {
	Field  string // for example "namespace projection" or "writes[2].id"
	Reason string
	Err    error // the underlying error, if any; may be nil
}

func (e *InvalidInputError) Error() string {
	s := "readmodel: invalid " + e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InvalidInputError) Is(target error) bool { return target == ErrInvalidInput }

// Unwrap returns the underlying error, if any.
func (e *InvalidInputError) Unwrap() error { return e.Err }

func invalid(field, reason string) error {
	return &InvalidInputError{Field: field, Reason: reason}
}
