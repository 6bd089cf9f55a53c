package command

import (
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/eventstore"
)

var (
	// ErrUnknownEventType reports an event whose stored type name, or whose
	// Go type, is not registered in the [Registry]. Check with errors.Is;
	// [UnknownEventTypeError] holds the details.
	ErrUnknownEventType = errors.New("command: unknown event type")

	// ErrInvalidCommand reports a command rejected by validation before it
	// was handled. Check with errors.Is; [ValidationError] wraps the
	// command's own error.
	ErrInvalidCommand = errors.New("command: invalid command")

	// ErrNoRoute reports a command type that a [Dispatcher] has no handler
	// for. Check with errors.Is.
	ErrNoRoute = errors.New("command: no handler for command type")

	// ErrIdempotencyUnsupported reports a command carrying an idempotency
	// key sent to a Handler whose store does not implement
	// eventstore.OutcomeStore, so the key could not be honoured. Nothing
	// was appended. Check with errors.Is.
	ErrIdempotencyUnsupported = errors.New("command: store does not support idempotency keys")

	// ErrSnapshotNotFound is returned by [SnapshotStore.Load] when a stream
	// has no snapshot. Check with errors.Is.
	ErrSnapshotNotFound = errors.New("command: snapshot not found")

	// ErrRejected matches every error a Decider's Decide returned: the
	// domain refused the command (overdraft, closed account) and nothing
	// was appended. It tells such refusals from infrastructure failures,
	// for metrics and for HTTP status codes. Check with errors.Is;
	// [RejectedError] wraps the decider's own error, which errors.Is and
	// errors.As still find.
	ErrRejected = errors.New("command: rejected by the decider")

	// ErrKeyReused reports an idempotency key (see [Keyed]) sent with a
	// different command than the one first handled under it: their hashes
	// ([Hash]) differ. Nothing was appended. The error names the key, never
	// the command. It is eventstore.ErrKeyReused, so either matches.
	ErrKeyReused = eventstore.ErrKeyReused
)

// RejectedError wraps an error returned by Decide. It matches ErrRejected,
// unwraps to the decider's error, and prints exactly that error's message,
// so callers see the domain's wording unchanged.
//
// A refusal of a keyed command is recorded under its key; the same key
// later returns a RejectedError with the same message and Code, and
// Replayed set. Its Err then holds the recorded message and unwraps to the
// Options.Refusals error that Code names, if any.
type RejectedError struct {
	Err error
	// Code is the refusal's stable name: the key of the Options.Refusals
	// entry the decider's error matched, else the error's Go type name.
	Code string
	// Replayed reports a refusal recorded under the command's idempotency
	// key by an earlier run, returned without deciding again.
	Replayed bool
}

func (e *RejectedError) Error() string { return e.Err.Error() }

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Unwrap returns the decider's error.
func (e *RejectedError) Unwrap() error { return e.Err }

// UnknownEventTypeError names an event type that the [Registry] cannot map.
// It matches ErrUnknownEventType.
type UnknownEventTypeError struct {
	// Name is the stored type name, when decoding; empty when encoding.
	Name string
	// GoType is the Go type, when encoding; empty when decoding.
	GoType string
}

func (e *UnknownEventTypeError) Error() string {
	if e.GoType != "" {
		return fmt.Sprintf("command: Go type %s is not a registered event type", e.GoType)
	}
	return fmt.Sprintf("command: event type %q is not registered", e.Name)
}

// Is makes errors.Is(err, ErrUnknownEventType) true.
func (e *UnknownEventTypeError) Is(target error) bool { return target == ErrUnknownEventType }

// ValidationError is returned when a command's Validate method fails (see
// [Validate]). It matches ErrInvalidCommand and wraps the command's error.
type ValidationError struct {
	// Command is the Go type name of the rejected command.
	Command string
	// Err is the error the command's Validate method returned.
	Err error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("command: invalid %s: %v", e.Command, e.Err)
}

// Is makes errors.Is(err, ErrInvalidCommand) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidCommand }

// Unwrap returns the command's own error.
func (e *ValidationError) Unwrap() error { return e.Err }
