package command_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// Stored events may hold anything another tool or an older version wrote:
// Decode, upcasters included, never panics, and either returns a value of
// the registered type or an error that names the event.
func FuzzRegistryDecode(f *testing.F) {
	f.Add("UserRegistered", []byte(`{"Name":"Ada Lovelace"}`), "", "1", true)
	f.Add("UserRegistered", []byte(`{"First":"Ada","Last":"L"}`), "application/json", "2", true)
	f.Add("UserRegistered", []byte(`{"First":"Ada","Country":"uk"}`), "", "3", true)
	f.Add("UserRegistered", []byte(`{"First":"Ada"}`), "", "4", true)
	f.Add("UserRegistered", []byte(`{"Name":1}`), "", "-1", true)
	f.Add("UserRegistered", []byte(strings.Repeat(`{"a":`, 5000)), "", "", false)
	f.Add("UserRegistered", []byte("\xff\xfe"), "text/plain", "x", true)
	f.Add("Unknown'; --", []byte(`null`), "", "1", false)
	f.Fuzz(func(t *testing.T, typ string, data []byte, contentType, schema string, withSchema bool) {
		reg := upcastingRegistry(t)
		rec := eventstore.Record{StreamID: "user-1", Version: 1, Type: typ, Data: data, ContentType: contentType}
		if withSchema {
			rec.Metadata.Extra = map[string]string{command.SchemaKey: schema}
		}
		v, err := reg.Decode(rec)
		if err != nil {
			var unknown *command.UnknownEventTypeError
			if typ != "UserRegistered" && !errors.As(err, &unknown) {
				t.Fatalf("Decode of unregistered type %q: %v, want an *UnknownEventTypeError", typ, err)
			}
			if !strings.HasPrefix(err.Error(), "command: ") {
				t.Fatalf("Decode error %q does not start with the package name", err)
			}
			return
		}
		if _, ok := v.(Registered); !ok {
			t.Fatalf("Decode = %T, want Registered", v)
		}
		if !json.Valid(data) {
			t.Fatalf("Decode accepted invalid JSON %q", data)
		}
	})
}
