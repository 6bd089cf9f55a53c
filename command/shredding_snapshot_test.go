package command_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
)

// profile is a state that holds personal data without marking it: state
// types carry no tags, so a snapshot of one is exactly where shredding could
// be undone.
type profile struct {
	ID, Name, Email, Country string
}

// profileChanged carries the whole profile, as many events do: a command
// that only moves the customer copies the name and e-mail from the state.
type profileChanged struct {
	CustomerID string
	Name       string `eventfold:"pii,subject=CustomerID"`
	Email      string `eventfold:"pii,subject=CustomerID"`
	Country    string
}

type (
	registerProfile struct{ ID, Name, Email, Country string }
	moveProfile     struct{ Country string }
)

var profiles = command.Decider[profile, any, profileChanged]{
	Evolve: func(_ profile, e profileChanged) profile {
		return profile{ID: e.CustomerID, Name: e.Name, Email: e.Email, Country: e.Country}
	},
	Decide: func(c any, s profile) ([]profileChanged, error) {
		switch c := c.(type) {
		case registerProfile:
			return []profileChanged{{CustomerID: c.ID, Name: c.Name, Email: c.Email, Country: c.Country}}, nil
		case moveProfile:
			return []profileChanged{{CustomerID: s.ID, Name: s.Name, Email: s.Email, Country: c.Country}}, nil
		}
		return nil, nil
	},
}

func profileRegistry(t *testing.T, keys command.KeyStore) *command.Registry {
	t.Helper()
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[profileChanged](reg, "ProfileChanged", nil); err != nil {
		t.Fatal(err)
	}
	return reg
}

// piiForms lists the forms the test data could take in stored bytes.
func piiForms(secrets ...string) []string {
	var forms []string
	for _, s := range secrets {
		forms = append(forms, s, base64.StdEncoding.EncodeToString([]byte(s)), base64.RawStdEncoding.EncodeToString([]byte(s)))
	}
	return forms
}

func assertNoPII(t *testing.T, what string, data []byte, secrets ...string) {
	t.Helper()
	for _, form := range piiForms(secrets...) {
		if bytes.Contains(data, []byte(form)) {
			t.Errorf("%s holds %q: %q", what, form, data)
		}
	}
}

func TestShreddingCoversSnapshots(t *testing.T) {
	for _, snapshots := range []bool{true, false} {
		name := map[bool]string{true: "snapshots", false: "no snapshots"}[snapshots]
		t.Run(name, func(t *testing.T) {
			store, keys, snaps := memstore.New(nil), memstore.NewKeys(nil), memstore.NewSnapshots(nil)
			reg := profileRegistry(t, keys)
			opts := &command.Options{}
			if snapshots {
				opts.Snapshots = &command.Snapshots{Store: snaps, Policy: command.EveryN(1)}
			}
			h, err := command.NewHandler(store, reg, profiles, opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx, stream := t.Context(), "customer-c-1"
			if _, err := h.Handle(ctx, stream, registerProfile{ID: "c-1", Name: "Ada Lovelace", Email: "ada@example.org", Country: "UK"}); err != nil {
				t.Fatal(err)
			}
			if snapshots {
				snap, err := snaps.Load(ctx, stream)
				if err != nil {
					t.Fatalf("snapshot Load = %v", err)
				}
				assertNoPII(t, "snapshot", snap.State, "Ada Lovelace", "ada@example.org")
			}
			if s, _, err := h.Load(ctx, stream); err != nil || s.Name != "Ada Lovelace" {
				t.Fatalf("Load before Forget = %+v, %v; want the name", s, err)
			}

			if err := keys.Forget(ctx, "c-1"); err != nil {
				t.Fatal(err)
			}
			if s, _, err := h.Load(ctx, stream); err != nil || s.Name != "" || s.Email != "" || s.Country != "UK" {
				t.Errorf("Load after Forget = %+v, %v; want the personal data gone, the country kept", s, err)
			}
			if _, err := h.Handle(ctx, stream, moveProfile{Country: "FR"}); err != nil {
				t.Fatal(err)
			}
			recs := readStream(t, store, stream)
			last := recs[len(recs)-1]
			assertNoPII(t, "event appended after Forget", last.Data, "Ada Lovelace", "ada@example.org")
			e, err := reg.Decode(last)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.(profileChanged); got.Name != "" || got.Email != "" || got.Country != "FR" {
				t.Errorf("event appended after Forget decodes to %+v, want no name or e-mail", got)
			}
			if _, ok, err := keys.Lookup(ctx, "c-1"); err != nil || ok {
				t.Errorf("Lookup(c-1) after Forget and a command = ok %v, %v; want no new key made for data that is gone", ok, err)
			}
			if snapshots {
				snap, err := snaps.Load(ctx, stream)
				if err != nil {
					t.Fatalf("snapshot Load = %v", err)
				}
				assertNoPII(t, "snapshot after Forget", snap.State, "Ada Lovelace", "ada@example.org")
			}
		})
	}
}

// TestSealedSnapshots checks when a shredding Handler uses a snapshot: while
// every subject of the stream keeps its key, and again once a snapshot is
// saved after a Forget; never a snapshot saved in clear.
func TestSealedSnapshots(t *testing.T) {
	mem, keys, snaps := memstore.New(nil), memstore.NewKeys(nil), memstore.NewSnapshots(nil)
	ctx, stream := t.Context(), "household-1"
	reg := profileRegistry(t, keys)

	// A snapshot saved in clear, as before shredding was on, is not trusted.
	if err := snaps.Save(ctx, command.Snapshot{StreamID: stream, Version: 1, SchemaVersion: 1,
		State: []byte(`{"ID":"c-1","Name":"Ada Lovelace","Country":"UK"}`)}); err != nil {
		t.Fatal(err)
	}
	counting := &countingStore{Store: mem}
	h, err := command.NewHandler(counting, reg, profiles, &command.Options{
		Snapshots: &command.Snapshots{Store: snaps, Policy: command.EveryN(1)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []registerProfile{
		{ID: "c-1", Name: "Ada Lovelace", Email: "ada@example.org", Country: "UK"},
		{ID: "c-2", Name: "Charles Babbage", Country: "UK"},
	} {
		if _, err := h.Handle(ctx, stream, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Handle(ctx, stream, moveProfile{Country: "IE"}); err != nil { // names c-2 again
		t.Fatal(err)
	}
	assertNoPII(t, "snapshot", loadSnapshot(t, snaps, stream).State, "Ada Lovelace", "ada@example.org", "Charles Babbage")

	loadReads := func() (profile, int64) {
		t.Helper()
		counting.read.Store(0)
		s, _, err := h.Load(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		return s, counting.read.Load()
	}
	if s, n := loadReads(); n != 0 || s.Name != "Charles Babbage" {
		t.Errorf("Load with every key = %+v after reading %d events, want Charles Babbage from the snapshot alone", s, n)
	}
	// Forgetting c-1, named only by the first event, shreds the snapshot.
	if err := keys.Forget(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
	if s, n := loadReads(); n != 3 || s.Name != "Charles Babbage" {
		t.Errorf("Load after Forget(c-1) = %+v after reading %d events, want the whole stream read", s, n)
	}
	// A snapshot saved after the Forget holds nothing of c-1 and is used.
	if _, err := h.Handle(ctx, stream, moveProfile{Country: "FR"}); err != nil {
		t.Fatal(err)
	}
	if s, n := loadReads(); n != 0 || s.Country != "FR" {
		t.Errorf("Load after a new snapshot = %+v after reading %d events, want the snapshot alone", s, n)
	}
	if err := keys.Forget(ctx, "c-2"); err != nil {
		t.Fatal(err)
	}
	if s, n := loadReads(); n != 4 || s.Name != "" || s.Country != "FR" {
		t.Errorf("Load after Forget(c-2) = %+v after reading %d events, want the whole stream read, no name", s, n)
	}
	// A corrupt sealed snapshot is a cache miss.
	if err := snaps.Save(ctx, command.Snapshot{StreamID: stream, Version: 4, SchemaVersion: 1,
		State: []byte("\x00eventfold/snapshot/v1\n\x09")}); err != nil {
		t.Fatal(err)
	}
	if s, n := loadReads(); n != 4 || s.Country != "FR" {
		t.Errorf("Load with a corrupt snapshot = %+v after reading %d events, want the whole stream read", s, n)
	}
}
