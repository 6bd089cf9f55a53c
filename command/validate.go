package command

import (
	"context"
	"fmt"
)

// Validator is implemented by commands that can check themselves, for
// example for required fields, independently of any state.
type Validator interface {
	// Validate returns an error describing what is wrong with the command,
	// or nil.
	Validate() error
}

// Validate is a Middleware that calls the Validate method of commands that
// implement [Validator] and rejects the invalid ones with a
// *ValidationError, which matches ErrInvalidCommand, before anything is
// loaded. Commands that do not implement Validator pass through.
func Validate(next HandleFunc) HandleFunc {
	return func(ctx context.Context, streamID string, cmd any) (Result, error) {
		if v, ok := cmd.(Validator); ok {
			if err := v.Validate(); err != nil {
				return Result{}, &ValidationError{Command: fmt.Sprintf("%T", cmd), Err: err}
			}
		}
		return next(ctx, streamID, cmd)
	}
}
