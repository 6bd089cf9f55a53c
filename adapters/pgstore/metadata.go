package pgstore

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/eventfold/eventfold/eventstore"
)

// decodeMetadata decodes an event's metadata as PostgreSQL prints a jsonb
// value. Most metadata is a flat object of the correlation and causation
// IDs, and reading that by hand costs a fraction of encoding/json's
// reflection, which was a tenth of a catching-up projector's CPU. Anything
// else (extra entries, escapes, other keys or shapes) goes to
// json.Unmarshal, so the result is always the same as json.Unmarshal's
// (FuzzDecodeMetadata checks that).
func decodeMetadata(b []byte, m *eventstore.Metadata) error {
	if ok := decodeFlatMetadata(b, m); ok {
		return nil
	}
	*m = eventstore.Metadata{}
	return json.Unmarshal(b, m)
}

// decodeFlatMetadata reads {"k": "v", ...} where every key is
// correlation_id or causation_id and no string holds a backslash or a
// control character. It reports false, having maybe set some fields, on
// anything else.
func decodeFlatMetadata(b []byte, m *eventstore.Metadata) bool {
	s := string(b) // one copy; the fields below are substrings of it
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return skipSpace(s, i+1) == len(s)
	}
	var seenCorrelation, seenCausation bool
	for {
		key, next, ok := plainString(s, i)
		if !ok {
			return false
		}
		i = skipSpace(s, next)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		val, next, ok := plainString(s, skipSpace(s, i+1))
		if !ok {
			return false
		}
		// A repeated key is left to encoding/json, whose rule for it
		// (the last one wins) this need not restate.
		switch {
		case key == "correlation_id" && !seenCorrelation:
			m.CorrelationID, seenCorrelation = val, true
		case key == "causation_id" && !seenCausation:
			m.CausationID, seenCausation = val, true
		default:
			return false
		}
		i = skipSpace(s, next)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return skipSpace(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// plainString reads a JSON string starting at s[i] that needs no
// unescaping, and returns its contents and the index after its closing
// quote.
func plainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	end := strings.IndexByte(s[i+1:], '"')
	if end < 0 {
		return "", 0, false
	}
	v := s[i+1 : i+1+end]
	for k := 0; k < len(v); k++ {
		if c := v[k]; c == '\\' || c < 0x20 {
			return "", 0, false
		}
	}
	if !utf8.ValidString(v) { // encoding/json would replace invalid bytes
		return "", 0, false
	}
	return v, i + 2 + end, true
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// encodeMetadata encodes an event's metadata for the metadata column,
// byte for byte as json.Marshal would. The usual metadata (a correlation
// and a causation ID in plain ASCII, no extra entries) is written by hand,
// which saves encoding/json's reflection on every appended event; anything
// else goes to json.Marshal (FuzzEncodeMetadata checks both agree).
func encodeMetadata(m eventstore.Metadata) ([]byte, error) {
	if len(m.Extra) > 0 || !plainASCII(m.CorrelationID) || !plainASCII(m.CausationID) {
		return json.Marshal(m)
	}
	b := make([]byte, 0, len(`{"correlation_id":"","causation_id":""}`)+len(m.CorrelationID)+len(m.CausationID))
	b = append(b, '{')
	if m.CorrelationID != "" {
		b = append(b, `"correlation_id":"`...)
		b = append(b, m.CorrelationID...)
		b = append(b, '"')
	}
	if m.CausationID != "" {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, `"causation_id":"`...)
		b = append(b, m.CausationID...)
		b = append(b, '"')
	}
	return append(b, '}'), nil
}

// plainASCII reports whether json.Marshal writes s unchanged between its
// quotes: printable ASCII without the characters it escapes.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
