package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
)

// The API end to end, in one process, against PostgreSQL and Redis.
func TestBank(t *testing.T) {
	base := banktest.Start(t, banktest.Config(t, false))
	post := func(want int, path, body string, headers ...string) banktest.Response {
		t.Helper()
		return banktest.Want(t, want, "POST", base+path, body, headers...)
	}
	get := func(want int, path string) banktest.Response {
		t.Helper()
		return banktest.Want(t, want, "GET", base+path, "")
	}

	if h := get(200, "/healthz"); !strings.Contains(h.Raw, `"healthy":true`) || !strings.Contains(h.Raw, `"projection":"accounts"`) {
		t.Errorf("/healthz of a fresh bank: %s", h.Raw)
	}
	r := post(201, "/accounts", `{"id":"ada","owner":"Ada L.","overdraft_limit":5000}`)
	if r.Num("version") != 1 || r.Token() == "" || r.Token() != r.Str("token") {
		t.Fatalf("open: %s (token header %q)", r.Raw, r.Token())
	}
	if got := r.Header.Get("Location"); got != "/accounts/ada" {
		t.Errorf("Location = %q", got)
	}
	post(201, "/accounts", `{"id":"ada-2","owner":"Ada L."}`)
	post(201, "/accounts", `{"id":"bob","owner":"bob"}`)
	post(409, "/accounts", `{"id":"bob","owner":"bob"}`)
	r = post(200, "/accounts/ada/deposits", `{"amount":10000}`)
	if r.Num("version") != 2 {
		t.Errorf("deposit version %d, want 2", r.Num("version"))
	}

	t.Run("overdraft", func(t *testing.T) {
		r := banktest.Want(t, 422, "POST", base+"/accounts/ada/withdrawals", `{"amount":15001}`)
		if r.Str("code") != "insufficient_funds" {
			t.Errorf("code %q", r.Str("code"))
		}
		r = banktest.Want(t, 200, "POST", base+"/accounts/ada/withdrawals", `{"amount":15000}`)
		acc := banktest.Want(t, 200, "GET", base+"/accounts/ada?token="+r.Token(), "")
		if acc.Num("balance") != -5000 || acc.Num("available") != 0 || acc.Num("version") != 3 {
			t.Errorf("after withdrawing into the overdraft: %s", acc.Raw)
		}
		banktest.Want(t, 200, "POST", base+"/accounts/ada/deposits", `{"amount":15000}`)
	})

	t.Run("idempotency key", func(t *testing.T) {
		h := []string{"Idempotency-Key", "dep-1"}
		first := banktest.Want(t, 200, "POST", base+"/accounts/bob/deposits", `{"amount":700}`, h...)
		again := banktest.Want(t, 200, "POST", base+"/accounts/bob/deposits", `{"amount":700}`, h...)
		if again.Num("version") != first.Num("version") || again.Body["replayed"] != true {
			t.Errorf("replay: first %s, again %s", first.Raw, again.Raw)
		}
		acc := banktest.Want(t, 200, "GET", base+"/accounts/bob", "", "X-Consistency-Token", again.Token())
		if acc.Num("balance") != 700 {
			t.Errorf("bob after a repeated deposit: %s", acc.Raw)
		}
	})

	t.Run("transfer", func(t *testing.T) {
		r := banktest.Want(t, 202, "POST", base+"/transfers", `{"id":"t1","from":"ada","to":"bob","amount":2500}`)
		tr := banktest.Transfer(t, base, "t1", r.Token())
		if tr.Str("status") != "completed" {
			t.Fatalf("transfer: %s", tr.Raw)
		}
		bob := banktest.Want(t, 200, "GET", base+"/accounts/bob?token="+tr.Str("token"), "")
		ada := banktest.Want(t, 200, "GET", base+"/accounts/ada?token="+tr.Str("token"), "")
		if bob.Num("balance") != 3200 || ada.Num("balance") != 7500 {
			t.Errorf("after the transfer: bob %s, ada %s", bob.Raw, ada.Raw)
		}
		banktest.Want(t, 409, "POST", base+"/transfers", `{"id":"t1","from":"ada","to":"bob","amount":1}`)
	})

	t.Run("failed transfers", func(t *testing.T) {
		// Too much: the withdrawal is refused and nothing moves.
		r := banktest.Want(t, 202, "POST", base+"/transfers", `{"id":"t2","from":"bob","to":"ada","amount":999999}`)
		tr := banktest.Transfer(t, base, "t2", r.Token())
		if tr.Str("status") != "failed" || !strings.Contains(tr.Str("reason"), "overdraft") {
			t.Errorf("t2: %s", tr.Raw)
		}
		// To an account that does not exist: withdrawn, then refunded.
		r = banktest.Want(t, 202, "POST", base+"/transfers", `{"id":"t3","from":"bob","to":"nobody","amount":200}`)
		tr = banktest.Transfer(t, base, "t3", r.Token())
		if tr.Str("status") != "failed" || !strings.Contains(tr.Str("reason"), "not found") {
			t.Errorf("t3: %s", tr.Raw)
		}
		bob := banktest.Want(t, 200, "GET", base+"/accounts/bob?token="+tr.Str("token"), "")
		if bob.Num("balance") != 3200 {
			t.Errorf("bob after a refunded transfer: %s", bob.Raw)
		}
		led := banktest.Want(t, 200, "GET", base+"/accounts/bob/ledger?order=desc&limit=2&token="+tr.Str("token"), "")
		items := led.Items()
		if len(items) != 2 || items[0]["kind"] != "refund" || items[1]["kind"] != "transfer out" {
			t.Errorf("bob's last entries: %s", led.Raw)
		}
	})

	t.Run("owner index", func(t *testing.T) {
		r := get(200, "/accounts?owner=Ada%20L.")
		items := r.Items()
		if len(items) != 2 || items[0]["id"] != "ada" || items[1]["id"] != "ada-2" {
			t.Errorf("Ada's accounts: %s", r.Raw)
		}
		if items := get(200, "/accounts?owner=nobody").Items(); len(items) != 0 {
			t.Errorf("nobody's accounts: %v", items)
		}
	})

	t.Run("ledger pages", func(t *testing.T) {
		var last banktest.Response
		for i := 1; i <= 5; i++ {
			last = banktest.Want(t, 200, "POST", base+"/accounts/ada-2/deposits", fmt.Sprintf(`{"amount":%d}`, i))
		}
		var seqs []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("too many pages")
			}
			r := banktest.Want(t, 200, "GET", base+"/accounts/ada-2/ledger?limit=2&token="+last.Token()+"&cursor="+cursor, "")
			for _, it := range r.Items() {
				seqs = append(seqs, int64(it["seq"].(float64)))
			}
			cursor = r.Str("next")
			if cursor == "" {
				break
			}
		}
		if fmt.Sprint(seqs) != "[2 3 4 5 6]" {
			t.Errorf("ledger seqs %v, want [2 3 4 5 6]", seqs)
		}
	})

	t.Run("concurrent deposits", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				r := banktest.Do(t, "POST", base+"/accounts/ada-2/deposits", `{"amount":100}`)
				if r.Status != 200 {
					t.Errorf("concurrent deposit: %d %s", r.Status, r.Raw)
				}
			})
		}
		wg.Wait()
		r := banktest.Want(t, 200, "POST", base+"/accounts/ada-2/deposits", `{"amount":1}`)
		acc := banktest.Want(t, 200, "GET", base+"/accounts/ada-2?token="+r.Token(), "")
		if acc.Num("balance") != 15+800+1 {
			t.Errorf("balance %d, want %d", acc.Num("balance"), 15+800+1)
		}
	})
}

// Bad input is always a 4xx with a JSON error, never a 500.
func TestBadInput(t *testing.T) {
	base := banktest.Start(t, banktest.Config(t, false))
	banktest.Want(t, 201, "POST", base+"/accounts", `{"id":"ada","owner":"ada"}`)
	// The projections activate their first version asynchronously; until
	// then queries are 503 not_ready, which is not what this test is about.
	for _, path := range []string{"/accounts/nobody", "/transfers/nothing", "/accounts/nobody/ledger"} {
		deadline := time.Now().Add(10 * time.Second)
		for banktest.Do(t, "GET", base+path, "").Status == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	long := strings.Repeat("x", 65)
	cases := []struct {
		method, path, body string
		want               int
		headers            []string
	}{
		{"POST", "/accounts", ``, 400, nil},
		{"POST", "/accounts", `not json`, 400, nil},
		{"POST", "/accounts", `[]`, 400, nil},
		{"POST", "/accounts", `{"owner":"ada","colour":"red"}`, 400, nil},
		{"POST", "/accounts", `{"owner":""}`, 400, nil},
		{"POST", "/accounts", `{"id":"a b","owner":"ada"}`, 400, nil},
		{"POST", "/accounts", `{"id":"` + long + `","owner":"ada"}`, 400, nil},
		{"POST", "/accounts", `{"owner":"ada","overdraft_limit":-1}`, 400, nil},
		{"POST", "/accounts", `{"owner":"ada","overdraft_limit":1e30}`, 400, nil},
		{"POST", "/accounts", `{"owner":"a\u0000b"}`, 400, nil},
		{"POST", "/accounts", `{"owner":"ada"} {"owner":"bob"}`, 400, nil},
		{"POST", "/accounts", `{"owner":"` + strings.Repeat("a", 70000) + `"}`, 400, nil},
		{"POST", "/accounts", `{"id":"ada","owner":"ada"}`, 409, nil},
		{"POST", "/accounts/ada/deposits", `{"amount":0}`, 400, nil},
		{"POST", "/accounts/ada/deposits", `{"amount":-5}`, 400, nil},
		{"POST", "/accounts/ada/deposits", `{"amount":1.5}`, 400, nil},
		{"POST", "/accounts/ada/deposits", `{"amount":"10"}`, 400, nil},
		{"POST", "/accounts/ada/deposits", `{"amount":99999999999999999999}`, 400, nil},
		{"POST", "/accounts/ada/deposits", `{"amount":100000000001}`, 400, nil},
		{"POST", "/accounts/ada/deposits", `{"amount":5}`, 400, []string{"Idempotency-Key", strings.Repeat("k", 201)}},
		{"POST", "/accounts/nobody/deposits", `{"amount":5}`, 404, nil},
		{"POST", "/accounts/nobody/withdrawals", `{"amount":5}`, 404, nil},
		{"POST", "/accounts/ada/withdrawals", `{"amount":5}`, 422, nil},
		{"POST", "/accounts/%2e%2e/deposits", `{"amount":5}`, 400, nil},
		{"POST", "/accounts/a%00b/deposits", `{"amount":5}`, 400, nil},
		{"POST", "/transfers", `{"from":"ada","to":"ada","amount":5}`, 400, nil},
		{"POST", "/transfers", `{"from":"ada","amount":5}`, 400, nil},
		{"GET", "/accounts/nobody", ``, 404, nil},
		{"GET", "/accounts/a%ffb", ``, 400, nil},
		{"GET", "/accounts/ada?token=bogus", ``, 400, nil},
		{"GET", "/accounts/ada?token=1-2-3", ``, 400, nil},
		{"GET", "/accounts/ada", ``, 400, []string{"X-Consistency-Token", "-1"}},
		{"GET", "/accounts", ``, 400, nil},
		{"GET", "/accounts?owner=ada&limit=0", ``, 400, nil},
		{"GET", "/accounts?owner=ada&limit=1000", ``, 400, nil},
		{"GET", "/accounts?owner=ada&limit=x", ``, 400, nil},
		{"GET", "/accounts?owner=ada&cursor=forged", ``, 400, nil},
		{"GET", "/accounts?owner=ada&cursor=c%21%21", ``, 400, nil},
		{"GET", "/accounts/ada/ledger?order=sideways", ``, 400, nil},
		{"GET", "/accounts/nobody/ledger", ``, 404, nil},
		{"GET", "/transfers/nothing", ``, 404, nil},
		{"DELETE", "/accounts/ada", ``, 405, nil},
		{"GET", "/no/such/route", ``, 404, nil},
	}
	for _, c := range cases {
		r := banktest.Do(t, c.method, base+c.path, c.body, c.headers...)
		if r.Status != c.want {
			t.Errorf("%s %s %.60s: status %d, want %d; body %.200s", c.method, c.path, c.body, r.Status, c.want, r.Raw)
			continue
		}
		if c.want != http.StatusMethodNotAllowed && c.path != "/no/such/route" && r.Str("error") == "" {
			t.Errorf("%s %s: no JSON error in %q", c.method, c.path, r.Raw)
		}
	}
}
