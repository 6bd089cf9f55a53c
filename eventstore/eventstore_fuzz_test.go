package eventstore_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eventfold/eventfold/eventstore"
)

// Consistency tokens come from clients (URLs, headers): any string either
// parses to a position that formats back to an equivalent token, or fails
// with ErrInvalidInput.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"0-0", "12-3", "18446744073709551615-18446744073709551615", "18446744073709551616-0",
		"-1", "1-", "-", "", "1-2-3", "0x1-2", " 1-2", "1-2\n", "01-002", "+1-2", "１-２"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := eventstore.ParsePosition(s)
		if err != nil {
			if !errors.Is(err, eventstore.ErrInvalidInput) {
				t.Fatalf("ParsePosition(%q) = %v, want an error matching ErrInvalidInput", s, err)
			}
			return
		}
		again, err := eventstore.ParsePosition(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePosition(%q) = %v; ParsePosition(%q) = %v, %v", s, p, p.String(), again, err)
		}
		if strings.TrimLeft(s, "0123456789-") != "" {
			t.Fatalf("ParsePosition(%q) accepted characters other than digits and '-'", s)
		}
	})
}

func FuzzPositionString(f *testing.F) {
	f.Add(uint64(0), uint64(0))
	f.Add(uint64(1<<64-1), uint64(7))
	f.Fuzz(func(t *testing.T, commit, seq uint64) {
		p := eventstore.Position{Commit: commit, Sequence: seq}
		got, err := eventstore.ParsePosition(p.String())
		if err != nil || got != p {
			t.Fatalf("ParsePosition(%q) = %v, %v, want %v", p.String(), got, err, p)
		}
	})
}

var canonicalUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func FuzzIsEventID(f *testing.F) {
	for _, s := range []string{eventstore.NewEventID(), "01890a5d-ac96-774b-bcce-b302099a8057", "01890A5D-AC96-774B-BCCE-B302099A8057",
		"01890a5d-ac96-774b-bcce-b302099a805", "01890a5d_ac96-774b-bcce-b302099a8057", "{01890a5d-ac96-774b-bcce-b302099a8057}", "g1890a5d-ac96-774b-bcce-b302099a8057", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := eventstore.IsEventID(s), canonicalUUID.MatchString(s); got != want {
			t.Fatalf("IsEventID(%q) = %v, want %v", s, got, want)
		}
	})
}

// ValidateAppend guards every store: whatever it is given, it never
// panics, and it either accepts the append or rejects it with
// ErrInvalidInput. What it accepts, the stores can hold verbatim.
func FuzzValidateAppend(f *testing.F) {
	f.Add("account-1", int64(-1), "", "Opened", "", []byte(`{"a":1}`), "corr", "k", "v", uint8(1))
	f.Add("'; DROP TABLE events; --", int64(0), "01890a5d-ac96-774b-bcce-b302099a8057", "Typ\x00e", "application/json", []byte(`{`), "", "", "", uint8(2))
	f.Add("{tag}*?[x]", int64(-2), "nope", "名前", "text/plain", []byte("\xff\xfe"), "\xff", "", "x", uint8(0))
	f.Add("s", int64(-3), "", "T", "application/octet-stream", []byte(strings.Repeat("[", 10000)), "", "\x00", "v", uint8(1))
	f.Fuzz(func(t *testing.T, stream string, expected int64, id, typ, contentType string, data []byte, corr, key, value string, n uint8) {
		events := make([]eventstore.Event, n%4)
		for i := range events {
			events[i] = eventstore.Event{ID: id, Type: typ, ContentType: contentType, Data: data,
				Metadata: eventstore.Metadata{CorrelationID: corr, Extra: map[string]string{key: value}}}
			if i > 0 && id != "" {
				events[i].ID = eventstore.NewEventID()
			}
		}
		err := eventstore.ValidateAppend(stream, eventstore.ExpectedVersion(expected), events, 0)
		if err != nil {
			var ie *eventstore.InvalidInputError
			if !errors.Is(err, eventstore.ErrInvalidInput) || !errors.As(err, &ie) || ie.Field == "" {
				t.Fatalf("ValidateAppend = %v, want an *InvalidInputError naming a field", err)
			}
			return
		}
		switch {
		case len(events) == 0:
			t.Fatal("ValidateAppend accepted an empty batch")
		case stream == "" || !utf8.ValidString(stream) || strings.ContainsRune(stream, 0):
			t.Fatalf("ValidateAppend accepted stream ID %q", stream)
		case !utf8.ValidString(typ) || typ == "":
			t.Fatalf("ValidateAppend accepted type %q", typ)
		case (contentType == "" || contentType == eventstore.ContentTypeJSON) && !json.Valid(data):
			t.Fatalf("ValidateAppend accepted invalid JSON %q", data)
		case expected < -2:
			t.Fatalf("ValidateAppend accepted expected version %d", expected)
		}
	})
}
