package eventstore

import "github.com/google/uuid"

// NewEventID returns a new random, time-ordered UUID (version 7) in canonical
// lower-case text form. Stores call it for events appended without an ID;
// callers that want idempotent retries set Event.ID themselves, once, before
// the first try. IDs made by one process never go backwards, even when the
// wall clock does.
func NewEventID() string {
	// uuid.NewV7 fails only when crypto/rand does, which it does not on
	// supported platforms.
	return uuid.Must(uuid.NewV7()).String()
}

// IsEventID reports whether s is a UUID in canonical lower-case or upper-case
// hexadecimal form (8-4-4-4-12). The other forms uuid.Parse accepts (braces,
// a urn:uuid: prefix, no hyphens) are not event IDs.
func IsEventID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
