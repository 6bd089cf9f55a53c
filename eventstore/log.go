package eventstore

import "log/slog"

// LogAttrs returns what every log line about rec carries, as one attribute
// with an empty key, so that slog handlers inline its members:
// correlation_id, causation_id, event_id, event_type, stream_id, version and
// position. Pass it among the arguments of any slog call:
//
//	logger.Warn("handler failed", eventstore.LogAttrs(rec), "err", err)
//
// correlation_id and causation_id are present, empty, when rec has none, so
// that a query on the key finds every line.
func LogAttrs(rec Record) slog.Attr {
	return slog.Attr{Value: slog.GroupValue(
		slog.String("correlation_id", rec.Metadata.CorrelationID),
		slog.String("causation_id", rec.Metadata.CausationID),
		slog.String("event_id", rec.ID),
		slog.String("event_type", rec.Type),
		slog.String("stream_id", rec.StreamID),
		slog.Int64("version", rec.Version),
		slog.String("position", rec.Position.String()),
	)}
}
