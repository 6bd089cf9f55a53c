package command_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/command"
)

type lineItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

type Audit struct {
	By string `json:"by"`
}

type placeOrder struct {
	Audit
	ID     string            `json:"id"`
	Items  []lineItem        `json:"items"`
	Labels map[string]string `json:"labels"`
	When   *time.Time        `json:"when"`
	Extra  any               `json:"extra"`
	Note   string            // no tag: the key is "Note"
	Hidden string            `json:"-"`
}

func TestDecodeJSON(t *testing.T) {
	good := []string{
		`{"id":"o1","items":[{"sku":"a","quantity":1}],"labels":{"a":"1","A":"2"},"by":"ada","Note":"n"}`,
		`{"when":"2024-01-02T03:04:05Z","extra":{"x":1,"X":2}}`,
		` {"id":"o1"} ` + "\n",
		`{"id":"caf\u00e9 ☕"}`,
	}
	for _, in := range good {
		var v placeOrder
		if err := command.DecodeJSON(strings.NewReader(in), &v); err != nil {
			t.Errorf("DecodeJSON(%s) = %v, want nil", in, err)
		}
	}
	bad := []struct{ in, want string }{
		{`{"id":"a","id":"b"}`, `invalid JSON: key "id" appears more than once`},
		{`{"id":"a","ID":"b"}`, `key "ID": the field is "id"`},
		{`{"ID":"b"}`, `key "ID": the field is "id"`},
		{`{"note":"x"}`, `key "note": the field is "Note"`},
		{`{"Hidden":"x"}`, `unknown key "Hidden"`},
		{`{"items":[{"sku":"a"},{"sku":"b","SKU":"c"}]}`, `at $.items[1]: key "SKU"`},
		{`{"labels":{"a":"1","a":"2"}}`, `at $.labels: key "a" appears more than once`},
		{`{"extra":{"x":1,"x":2}}`, `at $.extra: key "x" appears more than once`},
		{`{"when":"2024-01-02T03:04:05Z","when":"2025-01-02T03:04:05Z"}`, `key "when" appears more than once`},
		{"{\"id\":\"a\xffb\"}", `byte 8 is not valid UTF-8`},
		{"{\"id\":\"\xed\xa0\x80\"}", `not valid UTF-8`},
		{`{"id":"a"} {"id":"b"}`, `unexpected data after the JSON value`},
		{`{"id":"a"}]`, `unexpected data after the JSON value`},
		{``, `empty input`},
		{`{"id":`, `invalid JSON`},
		{`{"items":[{"quantity":"1"}]}`, `at $.items.quantity: want int, not string`},
		{`{"colour":"red"}`, `unknown key "colour"`},
	}
	for _, c := range bad {
		var v placeOrder
		err := command.DecodeJSON(strings.NewReader(c.in), &v)
		var jerr *command.JSONError
		if !errors.Is(err, command.ErrInvalidCommand) || !errors.As(err, &jerr) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeJSON(%q) = %v, want a JSONError containing %q", c.in, err, c.want)
		}
	}
}

func TestDecodeJSONPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	var v placeOrder
	if err := command.DecodeJSON(failingReader{boom}, &v); !errors.Is(err, boom) || errors.Is(err, command.ErrInvalidCommand) {
		t.Errorf("DecodeJSON of a failing reader = %v, want the reader's error", err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func ExampleDecodeJSON() {
	var req struct {
		Amount int64 `json:"amount"`
	}
	for _, body := range []string{`{"amount":1}`, `{"amount":1,"amount":2}`, `{"AMOUNT":2}`} {
		err := command.DecodeJSON(strings.NewReader(body), &req)
		fmt.Println(req.Amount, err)
	}
	// Output:
	// 1 <nil>
	// 1 invalid JSON: key "amount" appears more than once
	// 1 invalid JSON: key "AMOUNT": the field is "amount" (keys are case-sensitive)
}
