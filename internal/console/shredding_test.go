package console_test

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/console"
)

type signedUp struct {
	UserID string
	Email  string `eventfold:"pii,subject=UserID"`
	Plan   string
}

// TestConsoleShowsSealedFields: the console shows events as stored, so a
// field sealed by a ShreddingCodec appears as its ciphertext, before and
// after the subject is forgotten, and never in clear.
func TestConsoleShowsSealedFields(t *testing.T) {
	ctx := t.Context()
	es, keys := memstore.New(nil), memstore.NewKeys(nil)
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[signedUp](reg, "SignedUp", nil); err != nil {
		t.Fatal(err)
	}
	ev, err := reg.Encode(signedUp{UserID: "u1", Email: "ada@example.org", Plan: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	ev.Metadata.CorrelationID = "signup-1"
	if _, err := es.Append(ctx, "user-u1", 0, []eventstore.Event{ev}); err != nil {
		t.Fatal(err)
	}
	srv, err := console.New(console.Config{Events: memEvents{es}, ReadModels: memstore.NewReadModels(nil), SampleEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	check := func(when string) {
		t.Helper()
		for _, path := range []string{"/api/streams/user-u1", "/api/correlation/signup-1"} {
			status, _, body := get(t, hs.URL+path)
			if status != 200 || !bytes.Contains(body, []byte(`"Plan":"pro"`)) || !bytes.Contains(body, []byte(`"Email":"pii:v1:`)) {
				t.Errorf("%s: GET %s = %d %s; want the plan in clear, the e-mail sealed", when, path, status, body)
			}
			if bytes.Contains(body, []byte("ada@example.org")) {
				t.Errorf("%s: GET %s shows the e-mail: %s", when, path, body)
			}
		}
	}
	check("with the key")
	if err := keys.Forget(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	check("after Forget")
}

// With the application's registry, the console shows events upcast to the
// current schema version, as deciders and projections read them, and
// sealed fields stay sealed.
func TestConsoleShowsEventsUpcast(t *testing.T) {
	ctx := t.Context()
	es, keys := memstore.New(nil), memstore.NewKeys(nil)
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1 := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[signedUp](v1, "SignedUp", nil); err != nil {
		t.Fatal(err)
	}
	ev, err := v1.Encode(signedUp{UserID: "u1", Email: "ada@example.org", Plan: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := es.Append(ctx, "user-u1", 0, []eventstore.Event{ev}); err != nil {
		t.Fatal(err)
	}
	// Version 2 spells plans in capitals.
	v2 := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[signedUp](v2, "SignedUp", &command.EventOptions{Version: 2, Upcasters: map[int]command.UpcastFunc{
		1: command.Upcast(command.JSONCodec{}, func(e signedUp) (signedUp, error) { e.Plan = strings.ToUpper(e.Plan); return e, nil }),
	}}); err != nil {
		t.Fatal(err)
	}
	srv, err := console.New(console.Config{Events: memEvents{es}, ReadModels: memstore.NewReadModels(nil), SampleEvery: time.Hour, Registry: v2})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	status, _, body := get(t, hs.URL+"/api/streams/user-u1")
	if status != 200 || !bytes.Contains(body, []byte(`"Plan":"PRO"`)) || !bytes.Contains(body, []byte(`"schema":"2"`)) || !bytes.Contains(body, []byte(`"Email":"pii:v1:`)) {
		t.Errorf("GET the stream = %d %s; want the event at schema 2, the e-mail sealed", status, body)
	}
	if bytes.Contains(body, []byte("ada@example.org")) {
		t.Errorf("the console shows the e-mail: %s", body)
	}
}
