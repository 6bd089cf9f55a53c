package eventstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ContentTypeJSON is the content type of event data that is JSON. It is the
// default when [Event.ContentType] is empty, and stores check that such data
// is valid JSON.
const ContentTypeJSON = "application/json"

// Event is an event to append. The store assigns its stream, version,
// position and recorded time.
type Event struct {
	// ID identifies the event across the whole store and makes appends
	// idempotent. It must be a UUID in its canonical text form; when empty,
	// the store generates one (see NewEventID).
	ID string
	// Type names the event, for example "AccountOpened". Required.
	Type string
	// Data is the event's payload, stored and returned byte for byte.
	Data []byte
	// ContentType describes Data. Empty means ContentTypeJSON, in which case
	// Data must be valid JSON. Any other value stores Data unchecked.
	ContentType string
	// Metadata travels with the event: correlation and causation IDs and
	// free-form entries.
	Metadata Metadata
}

// Metadata is data about an event rather than of it.
type Metadata struct {
	// CorrelationID ties together every command and event of one business
	// flow, usually started by one incoming request.
	CorrelationID string `json:"correlation_id,omitempty"`
	// CausationID is the ID of the command or event that caused this event.
	CausationID string `json:"causation_id,omitempty"`
	// Extra holds further entries, for example a user ID or a trace parent.
	Extra map[string]string `json:"extra,omitempty"`
}

// IsZero reports whether m holds nothing.
func (m Metadata) IsZero() bool {
	return m.CorrelationID == "" && m.CausationID == "" && len(m.Extra) == 0
}

// Record is an event as stored.
type Record struct {
	ID string
	// Tenant is the tenant that owns the event's stream; empty for the
	// default tenant. A reader scoped to one tenant sees only that tenant's
	// records; a reader of every tenant's log (a relay, an admin tool, a
	// projection serving all tenants) uses it to tell them apart. See the
	// package doc.
	Tenant      string
	StreamID    string
	Type        string
	Data        []byte
	ContentType string
	Metadata    Metadata
	// Version is the event's version within its stream, starting at 1.
	Version int64
	// Position is the event's place in the global log.
	Position Position
	// RecordedAt is when the store recorded the event.
	RecordedAt time.Time
}

// Position is a place in the global log. Positions are ordered as the pair
// (Commit, Sequence): Commit groups the events of one append transaction
// (in pgstore it is the PostgreSQL transaction ID), Sequence orders events
// within and across commits. The zero Position is before every event.
//
// A Position is also the consistency token a command hands to the query side:
// a projection that has applied Position p has applied every event ordered
// before p.
type Position struct {
	Commit   uint64
	Sequence uint64
}

// Compare returns -1, 0 or +1 as p is before, equal to or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Commit < q.Commit:
		return -1
	case p.Commit > q.Commit:
		return 1
	case p.Sequence < q.Sequence:
		return -1
	case p.Sequence > q.Sequence:
		return 1
	}
	return 0
}

// Before reports whether p is ordered before q.
func (p Position) Before(q Position) bool { return p.Compare(q) < 0 }

// IsZero reports whether p is the start of the log.
func (p Position) IsZero() bool { return p == Position{} }

// String formats p as "commit-sequence", the form ParsePosition reads. It is
// safe to pass in URLs and HTTP headers.
func (p Position) String() string {
	return strconv.FormatUint(p.Commit, 10) + "-" + strconv.FormatUint(p.Sequence, 10)
}

// ParsePosition reads a Position written by Position.String. Anything else
// fails with an error matching ErrInvalidInput.
func ParsePosition(s string) (Position, error) {
	commit, seq, ok := strings.Cut(s, "-")
	if !ok || !isDigits(commit) || !isDigits(seq) {
		return Position{}, invalid("position", fmt.Sprintf("%q is not of the form commit-sequence", s))
	}
	c, err1 := strconv.ParseUint(commit, 10, 64)
	q, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return Position{}, invalid("position", fmt.Sprintf("%q is out of range", s))
	}
	return Position{Commit: c, Sequence: q}, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
