package readmodel

import (
	"fmt"
	"strconv"
)

// Size limits checked by the Validate methods.
const (
	// MaxNameBytes limits each field of a Namespace and index names.
	MaxNameBytes = 256
	// MaxIDBytes limits document IDs.
	MaxIDBytes = 1024
	// MaxCheckpointBytes limits Batch.Checkpoint.
	MaxCheckpointBytes = 4096
	// MaxValueBytes limits an index entry's Value, in its encoding (see
	// Value.Key): a String of s takes len(s)+3 bytes, one more for each NUL
	// byte of s; numbers and times take 9.
	MaxValueBytes = 1024
)

// Validate reports whether ns can name a namespace: Projection must not be
// empty, and no field may exceed MaxNameBytes. Any bytes are allowed.
func (ns Namespace) Validate() error {
	if ns.Projection == "" {
		return invalid("namespace projection", "is empty")
	}
	for _, f := range []struct{ name, v string }{
		{"namespace projection", ns.Projection},
		{"namespace version", ns.Version},
		{"namespace tenant", ns.Tenant},
		{"namespace partition", ns.Partition},
	} {
		if len(f.v) > MaxNameBytes {
			return invalid(f.name, "is longer than "+strconv.Itoa(MaxNameBytes)+" bytes")
		}
	}
	return nil
}

// ValidateID reports whether id can name a document: not empty and at most
// MaxIDBytes long. Any bytes are allowed.
func ValidateID(id string) error {
	if id == "" {
		return invalid("document id", "is empty")
	}
	if len(id) > MaxIDBytes {
		return invalid("document id", "is longer than "+strconv.Itoa(MaxIDBytes)+" bytes")
	}
	return nil
}

func validateIndexName(field, name string) error {
	if name == "" {
		return invalid(field, "is empty")
	}
	if len(name) > MaxNameBytes {
		return invalid(field, "is longer than "+strconv.Itoa(MaxNameBytes)+" bytes")
	}
	return nil
}

// Validate reports whether b can be applied: every write has a valid ID and
// a non-zero revision, deletes carry no data or entries, entries name an
// index and have a non-zero value of at most MaxValueBytes, and the
// checkpoint is within MaxCheckpointBytes.
func (b Batch) Validate() error {
	if len(b.Checkpoint) > MaxCheckpointBytes {
		return invalid("checkpoint", "is longer than "+strconv.Itoa(MaxCheckpointBytes)+" bytes")
	}
	for i, w := range b.Writes {
		if err := ValidateID(w.ID); err != nil {
			e := err.(*InvalidInputError)
			e.Field = fmt.Sprintf("writes[%d].id", i)
			return e
		}
		if w.Revision.IsZero() {
			return invalid(fmt.Sprintf("writes[%d].revision", i), "is zero")
		}
		if w.Delete && (len(w.Data) > 0 || len(w.Entries) > 0) {
			return invalid(fmt.Sprintf("writes[%d]", i), "is a delete with data or index entries")
		}
		for j, e := range w.Entries {
			if err := validateIndexName(fmt.Sprintf("writes[%d].entries[%d].index", i, j), e.Index); err != nil {
				return err
			}
			if e.Value.IsZero() {
				return invalid(fmt.Sprintf("writes[%d].entries[%d].value", i, j), "is the zero Value")
			}
			if n := len(e.Value.Key()); n > MaxValueBytes {
				return invalid(fmt.Sprintf("writes[%d].entries[%d].value", i, j),
					fmt.Sprintf("is %d bytes encoded, more than the limit of %d", n, MaxValueBytes))
			}
		}
	}
	return nil
}

// Validate reports whether q can run: it names an index, its limit is
// between 0 and MaxLimit, and its cursor, if any, is well formed.
func (q Query) Validate() error {
	if err := validateIndexName("query index", q.Index); err != nil {
		return err
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return invalid("query limit", strconv.Itoa(q.Limit)+" is not between 0 and "+strconv.Itoa(MaxLimit))
	}
	if q.Cursor != "" {
		if _, err := decodeCursor(q.Cursor); err != nil {
			return err
		}
	}
	return nil
}

// PageSize returns the number of documents a page of q holds at most:
// q.Limit, or DefaultLimit when it is zero.
func (q Query) PageSize() int {
	if q.Limit == 0 {
		return DefaultLimit
	}
	return q.Limit
}
