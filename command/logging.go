package command

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Logging returns a Middleware that writes one Info record to logger per
// command: its type, stream, command and correlation IDs, duration and
// outcome (the new version and position, or the error). A nil logger
// discards the records.
//
// The record of a failed command carries the error, which the middleware
// also returns: the log is the access log, and callers still decide what to
// do with the error.
func Logging(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(next HandleFunc) HandleFunc {
		return func(ctx context.Context, streamID string, cmd any) (Result, error) {
			start := time.Now()
			res, err := next(ctx, streamID, cmd)
			attrs := []slog.Attr{
				slog.String("command", fmt.Sprintf("%T", cmd)),
				slog.String("stream", streamID),
				LogAttrs(ctx),
				slog.Duration("duration", time.Since(start)),
			}
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
				logger.LogAttrs(ctx, slog.LevelInfo, "command failed", attrs...)
				return res, err
			}
			attrs = append(attrs,
				slog.Int64("version", res.StreamVersion),
				slog.String("position", res.Position.String()),
				slog.Int("events", res.Events),
				slog.Bool("replayed", res.Replayed),
			)
			logger.LogAttrs(ctx, slog.LevelInfo, "command handled", attrs...)
			return res, nil
		}
	}
}
