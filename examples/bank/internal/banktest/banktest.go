package banktest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/examples/bank/app"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// Config returns an app configuration isolated for t. With brokers it also
// names a JetStream stream of the test's own.
func Config(t testing.TB, brokers bool) app.Config {
	t.Helper()
	cfg := app.Config{
		PostgresURL: servicetest.PostgresURL(),
		RedisURL:    servicetest.RedisURL(),
		NATSURL:     servicetest.NATSURL(),
		Schema:      servicetest.Postgres(t),
		RedisPrefix: servicetest.Redis(t),
		Wait:        10 * time.Second,
	}
	if brokers {
		cfg.Topic = servicetest.NATS(t)
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return cfg
}

// Start starts a process of the bank with cfg, runs its workers until the
// test ends, and returns its API's URL (empty when the mode has no API).
func Start(t testing.TB, cfg app.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("app.New(%s): %v", cfg.Mode, err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var url string
	var srv *httptest.Server
	if h := a.Handler(); h != nil {
		srv = httptest.NewServer(h)
		url = srv.URL
	}
	t.Cleanup(func() {
		if srv != nil {
			srv.Close()
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s workers: %v", cfg.Mode, err)
		}
		a.Close()
	})
	return url
}

// Response is a decoded response of the API.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Token returns the consistency token of a command's response.
func (r Response) Token() string { return r.Header.Get("X-Consistency-Token") }

// Str returns the string field name of the body.
func (r Response) Str(name string) string { s, _ := r.Body[name].(string); return s }

// Num returns the number field name of the body.
func (r Response) Num(name string) int64 { f, _ := r.Body[name].(float64); return int64(f) }

// Items returns the items of a page.
func (r Response) Items() []map[string]any {
	raw, _ := r.Body["items"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// Do sends a request with a JSON body (none when body is empty) and headers
// given as name, value pairs, and decodes the answer.
func Do(t testing.TB, method, url, body string, headers ...string) Response {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: string(data)}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		if err := json.Unmarshal(data, &r.Body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, url, data, err)
		}
	}
	return r
}

// Want sends a request like Do and fails the test unless the status is want.
func Want(t testing.TB, want int, method, url, body string, headers ...string) Response {
	t.Helper()
	r := Do(t, method, url, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s %s: status %d, want %d; body %s", method, url, body, r.Status, want, r.Raw)
	}
	return r
}

// Transfer polls transfer id until it is no longer pending and returns it.
func Transfer(t testing.TB, base, id, token string) Response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := Want(t, http.StatusOK, "GET", base+"/transfers/"+id+"?token="+token, "")
		if r.Str("status") != "pending" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("transfer %s still pending: %s", id, r.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
