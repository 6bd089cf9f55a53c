package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// startServing starts a bank running everything (-mode=all) on addr and
// waits until it serves.
func startServing(t *testing.T, bin, addr string, args ...string) *bankProcess {
	t.Helper()
	p := startBank(t, bin, append([]string{"-mode=all", "-addr", addr}, args...)...)
	p.waitServing(t, "http://"+addr)
	return p
}

// post sends a command and ignores what a dying process answers, or not.
func post(base, path, body string) int {
	resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The bank, as separate OS processes SIGKILLed again and again while
// transfers run (from accounts funded only after the transfer was
// requested, to accounts opened only after it), with the read models'
// Redis keys wiped between some rounds: in the end, on a fold of the events
// table, money is conserved, no failed transfer moved money, every
// completed one moved its amount once, none is stuck, and no command key's
// recorded outcome ever changed.
func TestTransfersSurviveSIGKILL(t *testing.T) {
	schema, prefix := servicetest.Postgres(t), servicetest.Redis(t)
	bin := buildBank(t)
	args := []string{"-schema", schema, "-prefix", prefix, "-postgres", servicetest.PostgresURL(), "-redis", servicetest.RedisURL()}
	addr := freeAddr(t)
	seen := map[string]string{}
	checkOutcomes := func(round int) {
		now := banktest.CommandOutcomes(t, servicetest.PostgresURL(), schema)
		for key, first := range seen {
			if now[key] != first {
				t.Errorf("round %d: command key %s was %s, now %s", round, key, first, now[key])
			}
		}
		maps.Copy(seen, now)
	}
	// Each round kills the bank at a different moment after its first
	// transfer is under way, so kills land between different steps.
	killAfter := []time.Duration{0, 10, 30, 60, 100, 200} // ms
	rounds, inFlight := len(killAfter), 0
	for round, after := range killAfter {
		bank := startServing(t, bin, addr, args...)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() { transferScenario("http://"+addr, fmt.Sprintf("r%di%d", round, i)) })
		}
		waitForPending(t, schema, fmt.Sprintf("-r%di", round))
		time.Sleep(after * time.Millisecond)
		bank.kill()
		wg.Wait()
		inFlight += len(banktest.Fold(t, servicetest.PostgresURL(), schema).Pending())
		checkOutcomes(round)
		if round%2 == 1 {
			servicetest.WipeRedis(t, prefix)
		}
	}
	// A last round runs to its end: the run has completed transfers too.
	bank := startServing(t, bin, addr, args...)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { transferScenario("http://"+addr, fmt.Sprintf("last%d", i)) })
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	var ledger banktest.Ledger
	for {
		ledger = banktest.Fold(t, servicetest.PostgresURL(), schema)
		if len(ledger.Pending()) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a process deciding again would act now
	bank.kill()
	checkOutcomes(rounds)
	ledger = banktest.Fold(t, servicetest.PostgresURL(), schema)
	for _, v := range ledger.Violations() {
		t.Error(v)
	}
	failed, completed := 0, 0
	for _, st := range ledger.Transfers {
		switch st {
		case "failed":
			failed++
		case "completed":
			completed++
		}
	}
	t.Logf("%d transfers: %d completed, %d failed; %d command keys; %d transfers pending at a kill", len(ledger.Transfers), completed, failed, len(seen), inFlight)
	if failed == 0 || completed == 0 {
		t.Errorf("the run exercised %d failed and %d completed transfers; want both", failed, completed)
	}
}

// waitForPending waits, for 5 s at most, until a transfer whose ID holds
// round is requested and not finished.
func waitForPending(t *testing.T, schema, round string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range banktest.Fold(t, servicetest.PostgresURL(), schema).Pending() {
			if strings.Contains(id, round) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// transferScenario drives one client: a transfer from an account funded
// only afterwards, one to an account opened only afterwards, and one that
// succeeds. Each step may hit a killed process; the next goes on.
func transferScenario(base, id string) {
	src, dst, late := "src-"+id, "dst-"+id, "late-"+id
	post(base, "/accounts", `{"id":"`+src+`","owner":"o"}`)
	post(base, "/accounts", `{"id":"`+dst+`","owner":"o"}`)
	post(base, "/transfers", `{"id":"unfunded-`+id+`","from":"`+src+`","to":"`+dst+`","amount":40}`)
	settled(base, "unfunded-"+id)
	post(base, "/accounts/"+src+"/deposits", `{"amount":100}`)
	post(base, "/transfers", `{"id":"missing-`+id+`","from":"`+src+`","to":"`+late+`","amount":30}`)
	post(base, "/transfers", `{"id":"ok-`+id+`","from":"`+src+`","to":"`+dst+`","amount":20}`)
	settled(base, "missing-"+id)
	post(base, "/accounts", `{"id":"`+late+`","owner":"o"}`)
}

// settled waits, for a second at most, until transfer id is no longer
// pending, so that the state it was decided on changes only afterwards.
func settled(base, id string) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/transfers/" + id)
		if err != nil {
			return // the process was killed
		}
		var body struct{ Status string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err == nil && body.Status != "" && body.Status != "pending" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
