package pgstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/jackc/pgx/v5"
)

func TestKeysConformance(t *testing.T) {
	commandtest.RunKeyStore(t, commandtest.KeyConfig{
		Features: commandtest.Features{Tenants: true},
		New: func(t testing.TB) command.KeyStore {
			pool, schema := testenv.Schema(t)
			opts := &pgstore.Options{Schema: schema}
			if err := pgstore.Migrate(context.Background(), pool, opts); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			return pgstore.NewKeys(pool, opts)
		},
	})
}

type (
	signedUp struct {
		UserID string
		Email  string `eventfold:"pii,subject=UserID"`
		Plan   string
	}
	signUp struct{ UserID, Email, Plan string }
)

var users = command.Decider[int, signUp, signedUp]{
	Evolve: func(n int, _ signedUp) int { return n + 1 },
	Decide: func(c signUp, _ int) ([]signedUp, error) {
		return []signedUp{{UserID: c.UserID, Email: c.Email, Plan: c.Plan}}, nil
	},
}

func usersRegistry(t testing.TB, keys command.KeyStore) *command.Registry {
	t.Helper()
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[signedUp](reg, "SignedUp", nil); err != nil {
		t.Fatal(err)
	}
	return reg
}

// emailsByUser rebuilds a read model of e-mail addresses from the whole
// log up to upTo, the way a projection rebuilt from scratch sees it. The
// gap-safe tail shows a commit only once every older transaction on the
// server has ended, so it waits for upTo rather than stopping at the first
// empty read.
func emailsByUser(t testing.TB, store eventstore.Store, reg *command.Registry, upTo eventstore.Position) map[string]string {
	t.Helper()
	view := make(map[string]string)
	var after eventstore.Position
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs, err := store.ReadAll(t.Context(), after, 0)
		if err != nil {
			t.Fatalf("ReadAll = %v", err)
		}
		if len(recs) == 0 {
			if !after.Before(upTo) {
				return view
			}
			if time.Now().After(deadline) {
				t.Fatalf("ReadAll stopped at %v, before %v", after, upTo)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, rec := range recs {
			e, err := reg.Decode(rec)
			if err != nil {
				t.Fatalf("Decode(%s v%d) = %v, want no error", rec.StreamID, rec.Version, err)
			}
			view[e.(signedUp).UserID] = e.(signedUp).Email
			after = rec.Position
		}
	}
}

// TestCryptoShredding: on PostgreSQL, forgetting a user's key leaves the
// stored event intact but its e-mail unreadable, in the table and in a
// rebuilt read model; the user signing up again gets a new key.
func TestCryptoShredding(t *testing.T) {
	db, opts := migrated(t)
	store, err := pgstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	keys := pgstore.NewKeys(db, opts)
	reg := usersRegistry(t, keys)
	h, err := command.NewHandler(store, reg, users, nil)
	if err != nil {
		t.Fatal(err)
	}
	var last eventstore.Position
	for _, c := range []signUp{{"u1", "ada@example.org", "pro"}, {"u2", "bob@example.org", "free"}} {
		res, err := h.Handle(t.Context(), "user-"+c.UserID, c)
		if err != nil {
			t.Fatalf("Handle(%s) = %v", c.UserID, err)
		}
		last = res.Position
	}
	if got, want := emailsByUser(t, store, reg, last), map[string]string{"u1": "ada@example.org", "u2": "bob@example.org"}; !maps.Equal(got, want) {
		t.Errorf("read model with keys = %v, want %v", got, want)
	}
	oldKey, _, _ := keys.Lookup(t.Context(), "u1")

	if err := keys.Forget(t.Context(), "u1"); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{opts.Schema}.Sanitize()+".subject_keys WHERE subject = 'u1'").Scan(&rows); err != nil || rows != 0 {
		t.Errorf("subject_keys rows for u1 after Forget = %d, %v; want 0", rows, err)
	}

	// The row in the events table, read raw: intact JSON, plan in clear,
	// e-mail a ciphertext.
	var data []byte
	if err := db.QueryRow(t.Context(), "SELECT data FROM "+pgx.Identifier{opts.Schema}.Sanitize()+".events WHERE stream_id = 'user-u1'").Scan(&data); err != nil {
		t.Fatal(err)
	}
	var stored map[string]string
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatalf("stored event %s is not JSON: %v", data, err)
	}
	if stored["UserID"] != "u1" || stored["Plan"] != "pro" || !strings.HasPrefix(stored["Email"], "pii:v1:") || bytes.Contains(data, []byte("ada@")) {
		t.Errorf("stored event = %s, want UserID and Plan in clear and Email encrypted", data)
	}

	// A fresh registry and read model, as after a restart and a rebuild.
	rebuilt := emailsByUser(t, store, usersRegistry(t, pgstore.NewKeys(db, opts)), last)
	if want := map[string]string{"u1": "", "u2": "bob@example.org"}; !maps.Equal(rebuilt, want) {
		t.Errorf("read model rebuilt after Forget = %v, want %v", rebuilt, want)
	}

	res, err := h.Handle(t.Context(), "user-u1", signUp{"u1", "ada@new.example", "pro"})
	if err != nil {
		t.Fatalf("Handle after Forget = %v", err)
	}
	newKey, ok, err := keys.Lookup(t.Context(), "u1")
	if err != nil || !ok || bytes.Equal(newKey, oldKey) {
		t.Errorf("key after a command following Forget: found %v, new %v, err %v; want a new key", ok, !bytes.Equal(newKey, oldKey), err)
	}
	if got := emailsByUser(t, store, reg, res.Position)["u1"]; got != "ada@new.example" {
		t.Errorf("u1 after signing up again = %q, want the new address", got)
	}
}
