package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/google/go-cmp/cmp"
)

type customerRegistered struct {
	CustomerID string
	Name       string `eventfold:"pii,subject=CustomerID"`
	Email      string `json:"email,omitempty" eventfold:"pii,subject=CustomerID"`
	Photo      []byte `eventfold:"pii,subject=CustomerID"`
	Country    string
}

type registerCustomer struct {
	ID, Name, Email, Country string
	Photo                    []byte
}

var customers = command.Decider[int, registerCustomer, customerRegistered]{
	Evolve: func(n int, _ customerRegistered) int { return n + 1 },
	Decide: func(c registerCustomer, _ int) ([]customerRegistered, error) {
		return []customerRegistered{{CustomerID: c.ID, Name: c.Name, Email: c.Email, Photo: c.Photo, Country: c.Country}}, nil
	},
}

func shreddingRegistry(t *testing.T, keys command.KeyStore) *command.Registry {
	t.Helper()
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[customerRegistered](reg, "CustomerRegistered", nil); err != nil {
		t.Fatal(err)
	}
	return reg
}

// rebuild folds the whole log into a read model of customers by ID, as a
// projection rebuilt from scratch would.
func rebuild(t *testing.T, store eventstore.Store, reg *command.Registry) map[string]customerRegistered {
	t.Helper()
	view := make(map[string]customerRegistered)
	var after eventstore.Position
	for {
		recs, err := store.ReadAll(t.Context(), after, 0)
		if err != nil {
			t.Fatalf("ReadAll = %v", err)
		}
		if len(recs) == 0 {
			return view
		}
		for _, rec := range recs {
			e, err := reg.Decode(rec)
			if err != nil {
				t.Fatalf("Decode(%s) = %v, want no error", rec.StreamID, err)
			}
			c := e.(customerRegistered)
			view[c.CustomerID] = c
			after = rec.Position
		}
	}
}

func TestShreddingForget(t *testing.T) {
	store, keys := memstore.New(nil), memstore.NewKeys(nil)
	reg := shreddingRegistry(t, keys)
	h, err := command.NewHandler(store, reg, customers, nil)
	if err != nil {
		t.Fatal(err)
	}
	ada := registerCustomer{ID: "c-1", Name: "Ada Lovelace", Email: "ada@example.org", Country: "UK", Photo: []byte{1, 2, 3}}
	bob := registerCustomer{ID: "c-2", Name: "Bob", Country: "FR"}
	for _, c := range []registerCustomer{ada, bob} {
		if _, err := h.Handle(t.Context(), "customer-"+c.ID, c); err != nil {
			t.Fatalf("Handle(%s) = %v", c.ID, err)
		}
	}

	// With the key: the raw event hides the personal data, decoding
	// restores it.
	raw := readStream(t, store, "customer-c-1")[0]
	for _, secret := range []string{"Ada Lovelace", "ada@example.org", "AQID" /* base64 of the photo */} {
		if bytes.Contains(raw.Data, []byte(secret)) {
			t.Errorf("stored event %s contains %q in clear", raw.Data, secret)
		}
	}
	want := map[string]customerRegistered{
		"c-1": {CustomerID: "c-1", Name: "Ada Lovelace", Email: "ada@example.org", Photo: []byte{1, 2, 3}, Country: "UK"},
		"c-2": {CustomerID: "c-2", Name: "Bob", Country: "FR"},
	}
	if diff := cmp.Diff(want, rebuild(t, store, reg)); diff != "" {
		t.Errorf("read model with keys (-want +got):\n%s", diff)
	}

	// Forget c-1: the stored event is untouched, valid JSON with the
	// unmarked fields in clear, and every rebuild loses the personal data.
	if err := keys.Forget(t.Context(), "c-1"); err != nil {
		t.Fatal(err)
	}
	after := readStream(t, store, "customer-c-1")[0]
	if !bytes.Equal(after.Data, raw.Data) {
		t.Errorf("Forget rewrote the stored event")
	}
	var fields map[string]any
	if err := json.Unmarshal(after.Data, &fields); err != nil {
		t.Fatalf("stored event is not JSON: %v", err)
	}
	if fields["CustomerID"] != "c-1" || fields["Country"] != "UK" {
		t.Errorf("unmarked fields = %v, %v; want c-1, UK in clear", fields["CustomerID"], fields["Country"])
	}
	if name, _ := fields["Name"].(string); !strings.HasPrefix(name, "pii:v1:") {
		t.Errorf("stored Name = %q, want a ciphertext", name)
	}
	want["c-1"] = customerRegistered{CustomerID: "c-1", Country: "UK"}
	if diff := cmp.Diff(want, rebuild(t, store, shreddingRegistry(t, keys))); diff != "" {
		t.Errorf("read model rebuilt after Forget (-want +got):\n%s", diff)
	}

	// The same subject registering again gets a new key; the old event
	// stays unreadable, the new one reads.
	ada.Name = "Ada King"
	if _, err := h.Handle(t.Context(), "customer-c-1", ada); err != nil {
		t.Fatalf("Handle after Forget = %v", err)
	}
	recs := readStream(t, store, "customer-c-1")
	for i, wantName := range []string{"", "Ada King"} {
		e, err := reg.Decode(recs[i])
		if err != nil {
			t.Fatalf("Decode(version %d) = %v", recs[i].Version, err)
		}
		if got := e.(customerRegistered).Name; got != wantName {
			t.Errorf("Name of version %d = %q, want %q", recs[i].Version, got, wantName)
		}
	}
}

type failingKeys struct{ command.KeyStore }

var errKeysDown = errors.New("key store down")

func (failingKeys) Lookup(context.Context, string) ([]byte, bool, error) {
	return nil, false, errKeysDown
}

func TestShreddingKeyStoreFailureIsAnError(t *testing.T) {
	keys := memstore.NewKeys(nil)
	reg := shreddingRegistry(t, keys)
	ev, err := reg.Encode(customerRegistered{CustomerID: "c-1", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	down := shreddingRegistry(t, failingKeys{keys})
	_, err = down.Decode(eventstore.Record{Type: ev.Type, Data: ev.Data, ContentType: ev.ContentType, Metadata: ev.Metadata})
	if !errors.Is(err, errKeysDown) {
		t.Errorf("Decode with a failing key store = %v, want an error wrapping it, not a forgotten subject", err)
	}
}

func TestShreddingCodec(t *testing.T) {
	keys := memstore.NewKeys(nil)
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("RoundTripAndFreshNonces", func(t *testing.T) {
		in := customerRegistered{CustomerID: "c-1", Name: "Ada", Email: "", Photo: []byte{}, Country: "UK"}
		a, err := codec.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := codec.Marshal(&in)
		if bytes.Equal(a, b) {
			t.Error("two encodings are identical, want a fresh nonce each time")
		}
		var out customerRegistered
		if err := codec.Unmarshal(a, &out); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in, out); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		if in.Name != "Ada" {
			t.Error("Marshal modified its argument")
		}
	})

	t.Run("ClearValuesPassThrough", func(t *testing.T) {
		var out customerRegistered
		if err := codec.Unmarshal([]byte(`{"CustomerID":"c-9","Name":"Old","Country":"DE"}`), &out); err != nil {
			t.Fatal(err)
		}
		if out.Name != "Old" {
			t.Errorf("Name stored in clear decoded as %q, want Old", out.Name)
		}
	})

	t.Run("CiphertextBoundToSubject", func(t *testing.T) {
		data, _ := codec.Marshal(customerRegistered{CustomerID: "c-1", Name: "Ada"})
		keys.Key(t.Context(), "c-2")
		moved := bytes.Replace(data, []byte(`"c-1"`), []byte(`"c-2"`), 1)
		var out customerRegistered
		if err := codec.Unmarshal(moved, &out); err != nil || out.Name != "" {
			t.Errorf("ciphertext moved to another subject = %q, %v; want unreadable", out.Name, err)
		}
	})

	t.Run("RenamedFieldStillReads", func(t *testing.T) {
		type renamed struct {
			CustomerID string
			FullName   string `json:"Name" eventfold:"pii,subject=CustomerID"`
		}
		data, _ := codec.Marshal(customerRegistered{CustomerID: "c-1", Name: "Ada"})
		var out renamed
		if err := codec.Unmarshal(data, &out); err != nil || out.FullName != "Ada" {
			t.Errorf("decode into a renamed field = %q, %v; want Ada", out.FullName, err)
		}
	})

	t.Run("EmptySubject", func(t *testing.T) {
		if _, err := codec.Marshal(customerRegistered{Name: "Ada"}); err == nil {
			t.Error("Marshal with an empty subject = nil error, want one")
		}
	})

	t.Run("BadTags", func(t *testing.T) {
		type noSubject struct {
			Name string `eventfold:"pii"`
		}
		type intField struct {
			ID  string
			Age int `eventfold:"pii,subject=ID"`
		}
		type missingSubject struct {
			Name string `eventfold:"pii,subject=Nope"`
		}
		type markedSubject struct {
			ID   string `eventfold:"pii,subject=Name"`
			Name string `eventfold:"pii,subject=ID"`
		}
		for _, v := range []any{noSubject{}, intField{ID: "x"}, missingSubject{}, markedSubject{ID: "x", Name: "y"}} {
			if _, err := codec.Marshal(v); err == nil {
				t.Errorf("Marshal(%T) = nil error, want a tag error", v)
			}
		}
	})

	t.Run("UnmarkedTypesPassThrough", func(t *testing.T) {
		got, err := codec.Marshal(map[string]int{"a": 1})
		if err != nil || string(got) != `{"a":1}` {
			t.Errorf("Marshal(map) = %s, %v; want {\"a\":1}", got, err)
		}
	})
}
