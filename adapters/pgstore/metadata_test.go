package pgstore

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/eventfold/eventfold/eventstore"
)

// PostgreSQL prints the metadata the store writes in this form; the hand
// decoder must take it, or the fast path is dead code.
func TestDecodeMetadataTakesPostgresOutput(t *testing.T) {
	for in, want := range map[string]eventstore.Metadata{
		`{"causation_id": "cmd-1", "correlation_id": "flow-1"}`: {CorrelationID: "flow-1", CausationID: "cmd-1"},
		`{"correlation_id": "flow-2"}`:                          {CorrelationID: "flow-2"},
		`{}`:                                                    {},
		`{"causation_id":"é-1","correlation_id":"ü"}`: {CorrelationID: "ü", CausationID: "é-1"},
	} {
		var got eventstore.Metadata
		if !decodeFlatMetadata([]byte(in), &got) {
			t.Errorf("%s: the fast path refused it", in)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, want %+v", in, got, want)
		}
	}
}

// FuzzDecodeMetadata: decodeMetadata agrees with json.Unmarshal on every
// input, in the value and in whether it fails.
func FuzzDecodeMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"causation_id": "cmd-1", "correlation_id": "flow-1"}`,
		`{"correlation_id": "a", "correlation_id": "b"}`,
		`{"extra": {"user": "u1"}, "causation_id": "c", "correlation_id": "x"}`,
		`{"correlation_id": "a\"b", "causation_id": "\u00e9"}`,
		`{"correlation_id": "a", "other": "b"}`,
		`{"correlation_id": 1}`,
		`{"correlation_id": null}`,
		"{\"correlation_id\": \"\xff\"}",
		` { "correlation_id" : "a" , "causation_id" : "b" } `,
		`{"correlation_id": "a",}`,
		`{"correlation_id": "a"} x`,
		`{}`, `null`, `[]`, `"s"`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got, want eventstore.Metadata
		gotErr := decodeMetadata(b, &got)
		wantErr := json.Unmarshal(b, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: decodeMetadata error %v, json.Unmarshal error %v", b, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeMetadata %+v, json.Unmarshal %+v", b, got, want)
		}
	})
}

func FuzzEncodeMetadata(f *testing.F) {
	f.Add("0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2e", "0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2f", "", "")
	f.Add("flow-1", "", "", "")
	f.Add("", "cmd-1", "", "")
	f.Add("", "", "", "")
	f.Add("a<b>&c", "quote\"back\\slash", "", "")
	f.Add("é", "\u2028", "", "")
	f.Add("\xff", "tab\t", "", "")
	f.Add("flow", "cmd", "user", "u1")
	f.Fuzz(func(t *testing.T, correlation, causation, extraKey, extraValue string) {
		m := eventstore.Metadata{CorrelationID: correlation, CausationID: causation}
		if extraKey != "" {
			m.Extra = map[string]string{extraKey: extraValue}
		}
		got, gotErr := encodeMetadata(m)
		want, wantErr := json.Marshal(m)
		if (gotErr == nil) != (wantErr == nil) || string(got) != string(want) {
			t.Fatalf("%+v: encodeMetadata = %q, %v; json.Marshal = %q, %v", m, got, gotErr, want, wantErr)
		}
	})
}
