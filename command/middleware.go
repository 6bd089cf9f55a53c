package command

import "context"

// HandleFunc handles one command for one stream. It is the shape middleware
// wraps: the command is untyped so that one middleware serves every
// Handler. Inside a Handler, ctx always carries a CommandID and a
// CorrelationID.
type HandleFunc func(ctx context.Context, streamID string, cmd any) (Result, error)

// Middleware wraps a HandleFunc with behaviour that runs before and after
// it, such as validation or logging (see [Validate] and [Logging]).
// Middleware sees every command a Handler handles, whether it came from a
// direct call, a [Dispatcher] or a message transport.
type Middleware func(next HandleFunc) HandleFunc

func chain(h HandleFunc, mw []Middleware) HandleFunc {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}
