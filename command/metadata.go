package command

import (
	"context"
	"log/slog"
)

type ctxKey int

const (
	correlationKey ctxKey = iota
	commandIDKey
	idempotencyKey
)

// withIdempotencyKey returns a copy of ctx carrying an idempotency key for
// the one command about to be sent with it. Only a [Process] sets one, on
// a context of its own for each command: a context key set by callers
// would be inherited by every command sent with that context (see
// docs/design.md, C6).
func withIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey, key)
}

// IdempotencyKey returns the idempotency key a [Process] gave the command
// sent with ctx, or "". A Handler uses it for a command that carries no
// key of its own; a transport that carries commands to another process
// must carry this key along for the command to stay idempotent.
func IdempotencyKey(ctx context.Context) string {
	s, _ := ctx.Value(idempotencyKey).(string)
	return s
}

// WithCorrelationID returns a copy of ctx carrying the correlation ID of the
// business flow it belongs to, usually the ID of the incoming request. The
// Handler stamps it on every event it appends; transports such as
// adapters/watermillbus carry it along with the commands they send, so one
// ID ties together a request, its commands, their events and the commands
// that event handlers send in reaction.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

// CorrelationID returns the correlation ID carried by ctx, or "". Inside a
// Handler (in middleware and after) it is never empty: a command that
// arrives without one starts a new flow whose correlation ID is the
// command's ID.
func CorrelationID(ctx context.Context) string {
	s, _ := ctx.Value(correlationKey).(string)
	return s
}

// WithCommandID returns a copy of ctx carrying the ID of the one command
// about to be handled. The Handler records it as the causation ID of the
// events that command produces. Transports set it from their message ID;
// callers rarely need to. Do not reuse a context carrying a command ID for a
// second command.
func WithCommandID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, commandIDKey, id)
}

// CommandID returns the command ID carried by ctx, or "". Inside a Handler
// it is never empty: a command that arrives without one gets a new ID.
func CommandID(ctx context.Context) string {
	s, _ := ctx.Value(commandIDKey).(string)
	return s
}

// LogAttrs returns what every log line about the command being handled in
// ctx carries, as one attribute with an empty key that slog handlers
// inline: correlation_id and command_id. Inside a Handler neither is
// empty. It is eventstore.LogAttrs's counterpart for commands, so one query
// on correlation_id finds a flow's commands and events alike.
func LogAttrs(ctx context.Context) slog.Attr {
	return slog.Attr{Value: slog.GroupValue(
		slog.String("correlation_id", CorrelationID(ctx)),
		slog.String("command_id", CommandID(ctx)),
	)}
}
