package app_test

import (
	"testing"

	"github.com/eventfold/eventfold/examples/bank/app"
	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
)

// The bank split in three, as in production: a relay publishing the log to
// NATS JetStream, a projector building the read models (and running the
// process manager) from JetStream, and an API that appends to PostgreSQL and
// reads Redis. They share nothing but the services.
func TestDistributedThroughJetStream(t *testing.T) {
	cfg := banktest.Config(t, true)
	for _, mode := range []string{app.ModeRelay, app.ModeProjector} {
		c := cfg
		c.Mode = mode
		banktest.Start(t, c)
	}
	cfg.Mode = app.ModeAPI
	base := banktest.Start(t, cfg)

	banktest.Want(t, 201, "POST", base+"/accounts", `{"id":"ada","owner":"ada","overdraft_limit":1000}`)
	banktest.Want(t, 201, "POST", base+"/accounts", `{"id":"bob","owner":"bob"}`)
	banktest.Want(t, 200, "POST", base+"/accounts/ada/deposits", `{"amount":5000}`)
	banktest.Want(t, 422, "POST", base+"/accounts/ada/withdrawals", `{"amount":6001}`)
	r := banktest.Want(t, 202, "POST", base+"/transfers", `{"id":"t1","from":"ada","to":"bob","amount":5500}`)

	tr := banktest.Transfer(t, base, "t1", r.Token())
	if tr.Str("status") != "completed" {
		t.Fatalf("transfer through JetStream: %s", tr.Raw)
	}
	ada := banktest.Want(t, 200, "GET", base+"/accounts/ada?token="+tr.Str("token"), "")
	bob := banktest.Want(t, 200, "GET", base+"/accounts/bob?token="+tr.Str("token"), "")
	if ada.Num("balance") != -500 || bob.Num("balance") != 5500 {
		t.Errorf("balances: ada %s, bob %s", ada.Raw, bob.Raw)
	}
	led := banktest.Want(t, 200, "GET", base+"/accounts/ada/ledger?token="+tr.Str("token"), "")
	if n := len(led.Items()); n != 2 {
		t.Errorf("ada's ledger has %d entries, want 2: %s", n, led.Raw)
	}
	owners := banktest.Want(t, 200, "GET", base+"/accounts?owner=bob", "")
	if n := len(owners.Items()); n != 1 {
		t.Errorf("bob's accounts: %s", owners.Raw)
	}
}

func TestUnknownMode(t *testing.T) {
	if _, err := app.New(t.Context(), app.Config{Mode: "everything"}); err == nil {
		t.Fatal("app.New accepted mode \"everything\"")
	}
}
