package command_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/google/go-cmp/cmp"
)

// Three shapes of one event. v1 had a single name; v2 split it; v3 added
// a currency with a default for old events.
type (
	nameV1 struct{ Name string }
	nameV2 struct{ First, Last string }
	// Registered is the current Go type, at schema version 3.
	Registered struct {
		First, Last string
		Country     string
	}
)

func upcastingRegistry(t *testing.T) *command.Registry {
	t.Helper()
	reg := command.NewRegistry(nil)
	err := command.Register[Registered](reg, "UserRegistered", &command.EventOptions{
		Version: 3,
		Upcasters: map[int]command.UpcastFunc{
			1: command.Upcast(command.JSONCodec{}, func(old nameV1) (nameV2, error) {
				first, last, _ := strings.Cut(old.Name, " ")
				return nameV2{First: first, Last: last}, nil
			}),
			2: command.Upcast(command.JSONCodec{}, func(old nameV2) (Registered, error) {
				return Registered{First: old.First, Last: old.Last, Country: "unknown"}, nil
			}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func record(typ, data string, schema string) eventstore.Record {
	r := eventstore.Record{StreamID: "s", Version: 1, Type: typ, Data: []byte(data), ContentType: eventstore.ContentTypeJSON}
	if schema != "" {
		r.Metadata.Extra = map[string]string{command.SchemaKey: schema}
	}
	return r
}

func TestUpcastingChain(t *testing.T) {
	reg := upcastingRegistry(t)
	tests := []struct {
		name string
		rec  eventstore.Record
		want Registered
	}{
		{"v1 without schema entry", record("UserRegistered", `{"Name":"Ada Lovelace"}`, ""), Registered{"Ada", "Lovelace", "unknown"}},
		{"v1", record("UserRegistered", `{"Name":"Ada Lovelace"}`, "1"), Registered{"Ada", "Lovelace", "unknown"}},
		{"v2", record("UserRegistered", `{"First":"Alan","Last":"Turing"}`, "2"), Registered{"Alan", "Turing", "unknown"}},
		{"v3", record("UserRegistered", `{"First":"Grace","Last":"Hopper","Country":"US"}`, "3"), Registered{"Grace", "Hopper", "US"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := string(tt.rec.Data)
			got, err := reg.Decode(tt.rec)
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
			if string(tt.rec.Data) != data {
				t.Errorf("Decode changed the record's data to %s", tt.rec.Data)
			}
		})
	}

	ev, err := reg.Encode(Registered{First: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "UserRegistered" || ev.Metadata.Extra[command.SchemaKey] != "3" {
		t.Errorf("Encode = type %q, schema %q; want UserRegistered at schema 3", ev.Type, ev.Metadata.Extra[command.SchemaKey])
	}
}

func TestDecodeErrors(t *testing.T) {
	reg := upcastingRegistry(t)
	gap := command.NewRegistry(nil)
	if err := command.Register[Registered](gap, "UserRegistered", &command.EventOptions{
		Version:   3,
		Upcasters: map[int]command.UpcastFunc{2: func(b []byte) ([]byte, error) { return b, nil }},
	}); err != nil {
		t.Fatal(err)
	}
	failing := command.NewRegistry(nil)
	if err := command.Register[Registered](failing, "UserRegistered", &command.EventOptions{
		Version:   2,
		Upcasters: map[int]command.UpcastFunc{1: func([]byte) ([]byte, error) { return nil, errors.New("boom") }},
	}); err != nil {
		t.Fatal(err)
	}
	xml := record("UserRegistered", `<x/>`, "3")
	xml.ContentType = "application/xml"
	tests := []struct {
		name string
		reg  *command.Registry
		rec  eventstore.Record
		want string
	}{
		{"unknown type", reg, record("UserDeleted", `{}`, ""), `event type "UserDeleted" is not registered`},
		{"newer schema", reg, record("UserRegistered", `{}`, "4"), "stored schema version 4 is newer than the registered version 3"},
		{"bad schema", reg, record("UserRegistered", `{}`, "two"), `schema version "two" is not a positive integer`},
		{"missing upcaster", gap, record("UserRegistered", `{}`, "1"), "no upcaster from schema version 1 to 2"},
		{"failing upcaster", failing, record("UserRegistered", `{}`, "1"), "upcast from schema version 1: boom"},
		{"bad data", reg, record("UserRegistered", `{"First":7}`, "3"), "cannot unmarshal number"},
		{"other content type", reg, xml, `content type "application/xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.reg.Decode(tt.rec)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "command: ") {
				t.Errorf("Decode = %v, want a command error containing %q", err, tt.want)
			}
		})
	}
	if _, err := reg.Decode(record("UserDeleted", `{}`, "")); !errors.Is(err, command.ErrUnknownEventType) {
		t.Errorf("Decode(unknown) = %v, want ErrUnknownEventType", err)
	}
	if _, err := reg.Encode(nameV1{}); !errors.Is(err, command.ErrUnknownEventType) {
		t.Errorf("Encode(unregistered) = %v, want ErrUnknownEventType", err)
	}
	if _, err := reg.Encode(&Registered{}); !errors.Is(err, command.ErrUnknownEventType) {
		t.Errorf("Encode(pointer to registered) = %v, want ErrUnknownEventType", err)
	}
	if _, err := reg.Encode(nil); !errors.Is(err, command.ErrUnknownEventType) {
		t.Errorf("Encode(nil) = %v, want ErrUnknownEventType", err)
	}
}

func TestRegisterRejects(t *testing.T) {
	reg := command.NewRegistry(nil)
	if err := command.Register[Opened](reg, "AccountOpened", nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
	}{
		{"interface type", command.Register[AccountEvent](reg, "Any", nil)},
		{"empty name", command.Register[Deposited](reg, "", nil)},
		{"name taken", command.Register[Deposited](reg, "AccountOpened", nil)},
		{"type taken", command.Register[Opened](reg, "AccountOpened2", nil)},
		{"upcaster at current version", command.Register[Deposited](reg, "D", &command.EventOptions{Version: 2, Upcasters: map[int]command.UpcastFunc{2: func(b []byte) ([]byte, error) { return b, nil }}})},
		{"upcaster from 0", command.Register[Deposited](reg, "D", &command.EventOptions{Version: 2, Upcasters: map[int]command.UpcastFunc{0: func(b []byte) ([]byte, error) { return b, nil }}})},
		{"nil upcaster", command.Register[Deposited](reg, "D", &command.EventOptions{Version: 2, Upcasters: map[int]command.UpcastFunc{1: nil}})},
		{"negative version", command.Register[Deposited](reg, "D", &command.EventOptions{Version: -1})},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("Register with %s = nil error", tt.name)
		}
	}
	if name, err := reg.Name(Opened{}); err != nil || name != "AccountOpened" {
		t.Errorf("Name(Opened{}) = %q, %v", name, err)
	}
	if _, err := reg.Name(Deposited{}); !errors.Is(err, command.ErrUnknownEventType) {
		t.Errorf("Name of a rejected registration = %v, want ErrUnknownEventType", err)
	}
}

// TestUpcastThroughHandler loads a stream written by three versions of the
// code.
func TestUpcastThroughHandler(t *testing.T) {
	reg := upcastingRegistry(t)
	d := command.Decider[[]Registered, Registered, Registered]{
		Evolve: func(s []Registered, e Registered) []Registered { return append(s, e) },
		Decide: func(c Registered, _ []Registered) ([]Registered, error) { return []Registered{c}, nil },
	}
	store := newMemStore()
	if _, err := store.Append(t.Context(), "users", eventstore.NoStream, []eventstore.Event{
		{Type: "UserRegistered", Data: []byte(`{"Name":"Ada Lovelace"}`)},
		{Type: "UserRegistered", Data: []byte(`{"First":"Alan","Last":"Turing"}`), Metadata: eventstore.Metadata{Extra: map[string]string{"schema": "2"}}},
	}); err != nil {
		t.Fatal(err)
	}
	h, err := command.NewHandler(store, reg, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(t.Context(), "users", Registered{"Grace", "Hopper", "US"}); err != nil {
		t.Fatal(err)
	}
	got, _, err := h.Load(t.Context(), "users")
	if err != nil {
		t.Fatal(err)
	}
	want := []Registered{{"Ada", "Lovelace", "unknown"}, {"Alan", "Turing", "unknown"}, {"Grace", "Hopper", "US"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state mismatch (-want +got):\n%s", diff)
	}
	recs, err := store.ReadStream(t.Context(), "users", 1, eventstore.Forward, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Data) != `{"Name":"Ada Lovelace"}` {
		t.Errorf("the v1 event was rewritten: %s", recs[0].Data)
	}
}

// UpcastRecord shows a stored event as readers see it: upcast, still
// encoded, the stored record untouched.
func TestUpcastRecord(t *testing.T) {
	type qtyV1 struct {
		Qty int `json:"qty"`
	}
	type stockAdded struct {
		Quantity int `json:"quantity"`
	}
	reg := command.NewRegistry(nil)
	if err := command.Register[stockAdded](reg, "StockAdded", &command.EventOptions{
		Version: 2,
		Upcasters: map[int]command.UpcastFunc{1: command.Upcast(command.JSONCodec{}, func(v qtyV1) (stockAdded, error) {
			return stockAdded{Quantity: v.Qty}, nil
		})},
	}); err != nil {
		t.Fatal(err)
	}
	stored := eventstore.Record{Type: "StockAdded", Data: []byte(`{"qty":10}`), Metadata: eventstore.Metadata{Extra: map[string]string{"k": "v"}}}
	up, err := reg.UpcastRecord(stored)
	if err != nil {
		t.Fatal(err)
	}
	if string(up.Data) != `{"quantity":10}` || up.Metadata.Extra[command.SchemaKey] != "2" || up.Metadata.Extra["k"] != "v" {
		t.Errorf("UpcastRecord = %s %v", up.Data, up.Metadata.Extra)
	}
	if string(stored.Data) != `{"qty":10}` || len(stored.Metadata.Extra) != 1 {
		t.Errorf("UpcastRecord changed the stored record: %s %v", stored.Data, stored.Metadata.Extra)
	}
	if _, err := reg.UpcastRecord(eventstore.Record{Type: "Other"}); !errors.Is(err, command.ErrUnknownEventType) {
		t.Errorf("UpcastRecord of an unregistered type = %v, want ErrUnknownEventType", err)
	}
}
