package pgstore_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/jackc/pgx/v5"
)

// account is a state that holds an e-mail address, unmarked: state types
// carry no tags.
type account struct{ UserID, Email, Plan string }

// accountChanged carries the whole account, so a plan change copies the
// e-mail from the state.
type accountChanged struct {
	UserID string
	Email  string `eventfold:"pii,subject=UserID"`
	Plan   string
}

type (
	openAccount struct{ UserID, Email, Plan, Key string }
	changePlan  struct{ Plan string }
)

func (c openAccount) IdempotencyKey() string { return c.Key }

var accounts = command.Decider[account, any, accountChanged]{
	Evolve: func(_ account, e accountChanged) account { return account(e) },
	Decide: func(c any, s account) ([]accountChanged, error) {
		switch c := c.(type) {
		case openAccount:
			return []accountChanged{{UserID: c.UserID, Email: c.Email, Plan: c.Plan}}, nil
		case changePlan:
			return []accountChanged{{UserID: s.UserID, Email: s.Email, Plan: c.Plan}}, nil
		}
		return nil, nil
	},
}

// TestShreddingCoversSnapshotsAndCommandKeys: on PostgreSQL, with snapshots
// on, no row holds the e-mail in a readable form (snapshots, command keys),
// and after Forget the next command neither reads the e-mail back from a
// snapshot nor makes the forgotten user a new key.
func TestShreddingCoversSnapshotsAndCommandKeys(t *testing.T) {
	db, opts := migrated(t)
	store, err := pgstore.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	keys, snaps := pgstore.NewKeys(db, opts), pgstore.NewSnapshots(db, opts)
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[accountChanged](reg, "AccountChanged", nil); err != nil {
		t.Fatal(err)
	}
	h, err := command.NewHandler(store, reg, accounts, &command.Options{
		Snapshots: &command.Snapshots{Store: snaps, Policy: command.EveryN(1)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stream, email := t.Context(), "account-u1", "ada@example.org"
	q := pgx.Identifier{opts.Schema}.Sanitize()
	noEmail := func(what, query string) {
		t.Helper()
		rows, err := db.Query(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil || len(raw) == 0 {
			t.Fatalf("%s: %d rows, %v", what, len(raw), err)
		}
		for _, r := range raw {
			for _, form := range []string{email, base64.StdEncoding.EncodeToString([]byte(email))} {
				if bytes.Contains(r, []byte(form)) {
					t.Errorf("%s holds %q: %q", what, form, r)
				}
			}
		}
	}

	if _, err := h.Handle(ctx, stream, openAccount{UserID: "u1", Email: email, Plan: "free", Key: "open-u1"}); err != nil {
		t.Fatal(err)
	}
	noEmail("snapshots row", "SELECT state FROM "+q+".snapshots")
	noEmail("command_keys row", "SELECT convert_to(k::text, 'UTF8') FROM "+q+".command_keys k")
	noEmail("events row", "SELECT data FROM "+q+".events")

	if err := keys.Forget(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(ctx, stream, changePlan{Plan: "pro"}); err != nil {
		t.Fatal(err)
	}
	noEmail("events row after Forget", "SELECT data FROM "+q+".events")
	noEmail("snapshots row after Forget", "SELECT state FROM "+q+".snapshots")
	if s, _, err := h.Load(ctx, stream); err != nil || s.Email != "" || s.Plan != "pro" {
		t.Errorf("Load after Forget = %+v, %v; want no e-mail, plan pro", s, err)
	}
	if _, ok, err := keys.Lookup(ctx, "u1"); err != nil || ok {
		t.Errorf("Lookup(u1) after Forget and a command = ok %v, %v; want no new key", ok, err)
	}
}
