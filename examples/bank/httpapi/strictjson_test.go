package httpapi_test

import (
	"strings"
	"testing"

	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
)

// TestAmbiguousJSONIsRejected sends bodies that encoding/json alone would
// read one way while a client or a proxy may read them another: repeated
// keys, keys in another case, invalid UTF-8. Each is a 400 naming the
// problem, and nothing is deposited.
func TestAmbiguousJSONIsRejected(t *testing.T) {
	base := banktest.Start(t, banktest.Config(t, false))
	banktest.Want(t, 201, "POST", base+"/accounts", `{"id":"ada","owner":"ada"}`)
	cases := []struct{ path, body, want string }{
		{"/accounts/ada/deposits", `{"amount":1,"amount":2}`, `key "amount" appears more than once`},
		{"/accounts/ada/deposits", `{"amount":1,"AMOUNT":2}`, `key "AMOUNT"`},
		{"/accounts/ada/deposits", `{"Amount":2}`, `key "Amount"`},
		{"/accounts/ada/deposits", `{"AMOUNT":2}`, `key "AMOUNT"`},
		{"/accounts/ada/deposits", `{"amount":2,"amount":2}`, `appears more than once`},
		{"/accounts/ada/deposits", "{\"amount\":2,\"note\":\"\xff\"}", `UTF-8`},
		{"/accounts", "{\"owner\":\"a\xffb\"}", `UTF-8`},
		{"/accounts", "{\"owner\":\"a\xc3\"}", `UTF-8`},
		{"/accounts", `{"id":"x","ID":"y","owner":"ada"}`, `key "ID"`},
		{"/transfers", `{"from":"ada","to":"bob","To":"eve","amount":5}`, `key "To"`},
	}
	for _, c := range cases {
		r := banktest.Do(t, "POST", base+c.path, c.body)
		if r.Status != 400 || !strings.Contains(r.Str("error"), c.want) {
			t.Errorf("POST %s %q: status %d, body %s; want 400 with an error containing %q", c.path, c.body, r.Status, r.Raw, c.want)
		}
	}
	// Nothing was deposited: the next deposit is the account's second event.
	if r := banktest.Want(t, 200, "POST", base+"/accounts/ada/deposits", `{"amount":1}`); r.Num("version") != 2 {
		t.Errorf("deposit after the rejected ones: version %v, want 2", r.Num("version"))
	}
}
