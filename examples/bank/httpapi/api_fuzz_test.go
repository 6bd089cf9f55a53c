package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/projection"

	"github.com/eventfold/eventfold/examples/bank/domain"
	"github.com/eventfold/eventfold/examples/bank/httpapi"
	"github.com/eventfold/eventfold/examples/bank/process"
	"github.com/eventfold/eventfold/examples/bank/readside"
)

// memoryAPI returns the API on in-memory stores, with the read side
// running, until the test ends.
func memoryAPI(tb testing.TB) http.Handler {
	tb.Helper()
	events := memstore.New(nil)
	readModels := memstore.NewReadModels(nil)
	reg, err := domain.NewRegistry()
	if err != nil {
		tb.Fatal(err)
	}
	opts := &command.Options{Middleware: []command.Middleware{command.Validate}}
	accounts, err := command.NewHandler(events, reg, domain.Accounts, opts)
	if err != nil {
		tb.Fatal(err)
	}
	transfers, err := command.NewHandler(events, reg, domain.Transfers, opts)
	if err != nil {
		tb.Fatal(err)
	}
	d := new(command.Dispatcher)
	err = errors.Join(
		command.Route(d, func(ctx context.Context, c domain.OpenAccount) (command.Result, error) {
			return accounts.Handle(ctx, domain.AccountStream(c.AccountID), c)
		}),
		command.Route(d, func(ctx context.Context, c domain.Deposit) (command.Result, error) {
			return accounts.Handle(ctx, domain.AccountStream(c.AccountID), c)
		}),
		command.Route(d, func(ctx context.Context, c domain.Withdraw) (command.Result, error) {
			return accounts.Handle(ctx, domain.AccountStream(c.AccountID), c)
		}),
		command.Route(d, func(ctx context.Context, c domain.RequestTransfer) (command.Result, error) {
			return transfers.Handle(ctx, domain.TransferStream(c.TransferID), c)
		}),
		command.Route(d, func(ctx context.Context, c domain.CompleteTransfer) (command.Result, error) {
			return transfers.Handle(ctx, domain.TransferStream(c.TransferID), c)
		}),
		command.Route(d, func(ctx context.Context, c domain.FailTransfer) (command.Result, error) {
			return transfers.Handle(ctx, domain.TransferStream(c.TransferID), c)
		}),
	)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	transferProcess, err := process.NewTransfers(command.ProcessConfig{Store: events, Registry: reg, Commands: d, Checkpoints: memstore.NewCheckpoints()})
	if err != nil {
		tb.Fatal(err)
	}
	go transferProcess.Run(ctx) //nolint:errcheck // ends with ctx
	for _, p := range readside.Projections(reg) {
		r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(events, nil), Store: readModels})
		if err != nil {
			tb.Fatal(err)
		}
		go r.Run(ctx) //nolint:errcheck
	}
	q := readside.NewQueries(readModels)
	q.Wait = 20 * time.Millisecond
	api := httpapi.New(d, q, nil)
	for _, body := range []string{`{"id":"ada","owner":"ada"}`, `{"id":"bob","owner":"bob"}`} {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("POST", "/accounts", strings.NewReader(body)))
		if rec.Code != http.StatusCreated {
			tb.Fatalf("open account: %d %s", rec.Code, rec.Body)
		}
	}
	return api
}

var methods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"}

// Whatever a client sends, the API answers with a status that says what
// was wrong with the request, never a 500, and with a JSON body.
func FuzzAPI(f *testing.F) {
	f.Add(uint8(1), "/accounts", "", []byte(`{"id":"x1","owner":"x","overdraft_limit":10}`), "", "")
	f.Add(uint8(1), "/accounts/ada/deposits", "", []byte(`{"amount":100}`), "k1", "")
	f.Add(uint8(1), "/accounts/ada/withdrawals", "", []byte(`{"amount":-1}`), "", "")
	f.Add(uint8(1), "/transfers", "", []byte(`{"id":"t1","from":"ada","to":"bob","amount":1}`), "", "")
	f.Add(uint8(1), "/accounts", "", []byte(`{"id":"'; DROP TABLE events;--","owner":"{x}*?[a]"}`), "", "")
	f.Add(uint8(1), "/accounts", "", []byte(`{"id":"a","owner":"`+"\xff\xfe"+`"}`), "", "")
	f.Add(uint8(1), "/accounts", "", []byte(strings.Repeat(`[`, 100000)), "", "")
	f.Add(uint8(1), "/accounts", "", []byte(`{"id":"a","owner":"b"} {}`), "", "")
	f.Add(uint8(1), "/accounts/ada/deposits", "", []byte(`{"amount":1e400}`), "\x7f", "")
	f.Add(uint8(0), "/accounts/ada", "token=1-2", []byte(nil), "", "99999999999-1")
	f.Add(uint8(0), "/accounts", "owner=ada&limit=0&cursor=c%00&order=up", []byte(nil), "", "")
	f.Add(uint8(0), "/accounts/ada/ledger", "limit=5&cursor=cAAAA&order=desc", []byte(nil), "", "not-a-token")
	f.Add(uint8(0), "/transfers/t1", "token=18446744073709551616-0", []byte(nil), "", "")
	f.Add(uint8(2), "/accounts/%2e%2e/ledger", "", []byte(`{}`), "", "")
	api := memoryAPI(f)
	f.Fuzz(func(t *testing.T, method uint8, path, query string, body []byte, key, token string) {
		req, err := http.NewRequest(methods[int(method)%len(methods)], "http://bank"+path, bytes.NewReader(body))
		if err != nil || !strings.HasPrefix(path, "/") {
			return // not a request a server can receive
		}
		req.URL.RawQuery = query
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		if token != "" {
			req.Header.Set(httpapi.TokenHeader, token)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req.WithContext(ctx))
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s?%s with body %q: %d %s", req.Method, path, query, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed && !strings.Contains(rec.Body.String(), `"code"`) {
			t.Fatalf("%s %s: %d without an error code: %s", req.Method, path, rec.Code, rec.Body)
		}
	})
}
