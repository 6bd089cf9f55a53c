package main

import (
	"testing"
	"time"

	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// The split deployment the README describes, as separate OS processes of
// the bank's binary on one schema: a relay, a projector and two API
// replicas. Commands go through one API; both read them back with the
// consistency token; every process stops cleanly on SIGTERM.
func TestSplitDeploymentAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bank and runs four processes")
	}
	schema := servicetest.Postgres(t)
	prefix := servicetest.Redis(t)
	topic := servicetest.NATS(t)
	bin := buildBank(t)
	common := []string{"-schema", schema, "-prefix", prefix, "-topic", topic, "-wait", "15s",
		"-postgres", servicetest.PostgresURL(), "-redis", servicetest.RedisURL(), "-nats", servicetest.NATSURL()}
	// The relay migrates the schema first, so that the others do not race
	// to create it.
	relay := startBank(t, bin, append([]string{"-mode=relay"}, common...)...)
	time.Sleep(500 * time.Millisecond)
	projector := startBank(t, bin, append([]string{"-mode=projector"}, common...)...)
	addr1, addr2 := freeAddr(t), freeAddr(t)
	api1 := startBank(t, bin, append([]string{"-mode=api", "-addr", addr1}, common...)...)
	api2 := startBank(t, bin, append([]string{"-mode=api", "-addr", addr2}, common...)...)
	one, two := "http://"+addr1, "http://"+addr2
	api1.waitServing(t, one)
	api2.waitServing(t, two)

	banktest.Want(t, 201, "POST", one+"/accounts", `{"id":"ada","owner":"ada","overdraft_limit":1000}`)
	banktest.Want(t, 201, "POST", one+"/accounts", `{"id":"bob","owner":"bob"}`)
	dep := banktest.Want(t, 200, "POST", one+"/accounts/ada/deposits", `{"amount":5000}`)
	for _, base := range []string{one, two} {
		ada := banktest.Want(t, 200, "GET", base+"/accounts/ada?token="+dep.Token(), "")
		if ada.Num("balance") != 5000 {
			t.Errorf("%s: ada after the deposit: %s", base, ada.Raw)
		}
	}
	tr := banktest.Want(t, 202, "POST", one+"/transfers", `{"id":"t1","from":"ada","to":"bob","amount":5500}`)
	done := banktest.Transfer(t, two, "t1", tr.Token())
	if done.Str("status") != "completed" {
		t.Fatalf("transfer: %s", done.Raw)
	}
	for _, base := range []string{one, two} {
		bob := banktest.Want(t, 200, "GET", base+"/accounts/bob?token="+done.Str("token"), "")
		if bob.Num("balance") != 5500 {
			t.Errorf("%s: bob after the transfer: %s", base, bob.Raw)
		}
	}

	for _, p := range []*bankProcess{api1, api2, projector, relay} {
		p.stop(t)
	}
}
