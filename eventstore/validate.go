package eventstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on what Append accepts. Stores check them with ValidateAppend.
const (
	// MaxStreamIDBytes is the longest stream ID, in bytes.
	MaxStreamIDBytes = 512
	// MaxTypeBytes is the longest event type and content type, in bytes.
	MaxTypeBytes = 256
	// DefaultMaxDataBytes is the default limit on one event's Data.
	DefaultMaxDataBytes = 1 << 20
	// MaxEventsPerAppend is the largest batch one Append takes.
	MaxEventsPerAppend = 10000
	// MaxTenantBytes is the longest tenant ID, in bytes. It equals the
	// readmodel limit on a namespace's tenant, so every tenant's events can
	// be projected into namespaces of that tenant.
	MaxTenantBytes = 256
	// MaxMetadataBytes is the most metadata one event carries: the bytes of
	// its correlation ID, causation ID and every Extra key and value.
	MaxMetadataBytes = 64 << 10
)

// ValidateTenant checks a tenant ID given to a store's tenant scope: not
// empty (the default tenant is the unscoped store itself), at most
// MaxTenantBytes, valid UTF-8 and free of NUL bytes. Any other character is
// allowed and stored verbatim.
func ValidateTenant(tenant string) error {
	return validateName("tenant ID", tenant, MaxTenantBytes)
}

// ValidateStreamID checks a stream ID: not empty, at most MaxStreamIDBytes,
// valid UTF-8 and free of NUL bytes. Any other character, quotes and
// semicolons included, is allowed and stored verbatim.
func ValidateStreamID(id string) error {
	return validateName("stream ID", id, MaxStreamIDBytes)
}

func validateName(field, s string, max int) error {
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > max:
		return invalid(field, fmt.Sprintf("is %d bytes long, more than the limit of %d", len(s), max))
	case !utf8.ValidString(s):
		return invalid(field, "is not valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		return invalid(field, "contains a NUL byte")
	}
	return nil
}

// ValidateAppend checks the arguments of an Append before anything is
// written: the stream ID, the expected version, the batch size, and every
// event's ID, type, content type, data (at most maxDataBytes, and valid JSON
// when the content type is JSON) and metadata (at most MaxMetadataBytes). A
// maxDataBytes of 0 means DefaultMaxDataBytes. It returns an
// *InvalidInputError naming the first problem.
func ValidateAppend(streamID string, expected ExpectedVersion, events []Event, maxDataBytes int) error {
	if err := ValidateStreamID(streamID); err != nil {
		return err
	}
	if err := expected.Validate(); err != nil {
		return err
	}
	if len(events) == 0 {
		return invalid("events", "at least one event is required")
	}
	if len(events) > MaxEventsPerAppend {
		return invalid("events", fmt.Sprintf("%d events in one append, more than the limit of %d", len(events), MaxEventsPerAppend))
	}
	if maxDataBytes <= 0 {
		maxDataBytes = DefaultMaxDataBytes
	}
	var seen map[string]int
	for i, e := range events {
		// Field names are built only for an error: this runs for every
		// event of every append.
		field := func(name string) string { return "events[" + strconv.Itoa(i) + "]." + name }
		if e.ID != "" {
			if !IsEventID(e.ID) {
				return invalid(field("id"), fmt.Sprintf("%q is not a UUID in canonical form", e.ID))
			}
			if seen == nil {
				seen = make(map[string]int, len(events))
			}
			if j, dup := seen[e.ID]; dup {
				return invalid(field("id"), fmt.Sprintf("%s is also the ID of events[%d]", e.ID, j))
			}
			seen[e.ID] = i
		}
		if err := validateName("", e.Type, MaxTypeBytes); err != nil {
			return renamed(err, field("type"))
		}
		if isLifecycleType(e.Type) {
			return invalid(field("type"), fmt.Sprintf("%q starts with %q, which is reserved for the store's lifecycle events", e.Type, lifecycleTypePrefix))
		}
		if e.ContentType != "" {
			if err := validateName("", e.ContentType, MaxTypeBytes); err != nil {
				return renamed(err, field("content type"))
			}
		}
		if len(e.Data) > maxDataBytes {
			return invalid(field("data"), fmt.Sprintf("is %d bytes, more than the limit of %d", len(e.Data), maxDataBytes))
		}
		if (e.ContentType == "" || e.ContentType == ContentTypeJSON) && !json.Valid(e.Data) {
			return invalid(field("data"), "is declared JSON but is not valid JSON")
		}
		if !e.Metadata.IsZero() {
			if err := validateMetadata(field("metadata"), e.Metadata); err != nil {
				return err
			}
		}
	}
	return nil
}

// renamed sets the field of an *InvalidInputError built without one.
func renamed(err error, field string) error {
	if ie, ok := err.(*InvalidInputError); ok {
		ie.Field = field
	}
	return err
}

func validateMetadata(field string, m Metadata) error {
	check := func(name, s string) error {
		if len(s) > MaxStreamIDBytes || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return invalid(field+"."+name, "must be valid UTF-8 without NUL bytes and at most 512 bytes")
		}
		return nil
	}
	if err := check("correlation_id", m.CorrelationID); err != nil {
		return err
	}
	if err := check("causation_id", m.CausationID); err != nil {
		return err
	}
	size := len(m.CorrelationID) + len(m.CausationID)
	for k, v := range m.Extra {
		size += len(k) + len(v)
		if size > MaxMetadataBytes {
			return invalid(field, fmt.Sprintf("is more than the limit of %d bytes (correlation ID, causation ID and every extra key and value)", MaxMetadataBytes))
		}
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) || strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
			return invalid(field+".extra", fmt.Sprintf("entry %q must have a non-empty key and valid UTF-8 without NUL bytes", truncated(k)))
		}
	}
	return nil
}

// truncated shortens a hostile key for an error message.
func truncated(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
