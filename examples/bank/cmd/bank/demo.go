package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/examples/bank/app"
)

// runDemo starts the bank in this process, in a schema and Redis prefix of
// its own, plays the session of demoSteps against its HTTP API, prints it to
// out, and removes its data again.
func runDemo(ctx context.Context, cfg app.Config, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	run := time.Now().UnixNano()
	cfg.Mode = app.ModeAll
	cfg.Schema = fmt.Sprintf("bank_demo_%d", run)
	cfg.RedisPrefix = fmt.Sprintf("bank-demo-%d:", run)
	defer cleanUp(cfg)

	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	workers := make(chan error, 1)
	go func() { workers <- a.Run(ctx) }()
	defer func() { cancel(); <-workers }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := newServer(a.Handler(), cfg.Wait)
	go srv.Serve(ln) //nolint:errcheck // ends with Close below
	defer srv.Close()

	s := &session{ctx: ctx, base: "http://" + ln.Addr().String(), out: out, vars: map[string]string{}}
	fmt.Fprintf(out, "The bank is running on %s (PostgreSQL schema %s, Redis prefix %s).\n",
		s.base, cfg.Schema, cfg.RedisPrefix)
	fmt.Fprintln(out, "Amounts are in cents. Commands answer with the stream version and a consistency")
	fmt.Fprintln(out, "token; queries given the token wait until the read model includes that write.")
	return s.play()
}

// session sends requests and prints them. vars holds values picked from
// responses ({token} and the like) for later requests.
type session struct {
	ctx  context.Context
	base string
	out  io.Writer
	vars map[string]string
}

func (s *session) play() error {
	steps := []struct {
		say         string
		method, url string
		body        string
		want        int
		keep        string // remember this JSON field of the response as {keep}
	}{
		{say: "Ada opens a checking account with an overdraft limit of 50.00.",
			method: "POST", url: "/accounts", body: `{"id":"ada-checking","owner":"ada","overdraft_limit":5000}`, want: 201},
		{say: "She opens a savings account too, and Bob opens one.",
			method: "POST", url: "/accounts", body: `{"id":"ada-savings","owner":"ada"}`, want: 201},
		{method: "POST", url: "/accounts", body: `{"id":"bob","owner":"bob"}`, want: 201},
		{say: "Ada deposits 100.00.",
			method: "POST", url: "/accounts/ada-checking/deposits", body: `{"amount":10000}`, want: 200},
		{say: "Withdrawing 200.00 would take her below -50.00: the account refuses (422).",
			method: "POST", url: "/accounts/ada-checking/withdrawals", body: `{"amount":20000}`, want: 422},
		{say: "Malformed input is a 400, never a 500.",
			method: "POST", url: "/accounts/ada-checking/deposits", body: `{"amount":"lots"}`, want: 400},
		{say: "Withdrawing 30.00 is fine. Keep the token of this write.",
			method: "POST", url: "/accounts/ada-checking/withdrawals", body: `{"amount":3000}`, want: 200, keep: "token"},
		{say: "Reading the account with that token waits until the read model has the withdrawal.",
			method: "GET", url: "/accounts/ada-checking?token={token}", want: 200},
		{say: "Ada sends 25.00 to Bob. The transfer is accepted; a process manager carries it out.",
			method: "POST", url: "/transfers", body: `{"id":"t-1","from":"ada-checking","to":"bob","amount":2500}`, want: 202, keep: "token"},
		{say: "Its status, once the process manager has finished (the demo polls until then).",
			method: "GET", url: "/transfers/t-1?token={token}", want: 200, keep: "token"},
		{say: "Bob's balance, read with the transfer's final token.",
			method: "GET", url: "/accounts/bob?token={token}", want: 200},
		{say: "Ada's accounts, found through the read model's owner index.",
			method: "GET", url: "/accounts?owner=ada&token={token}", want: 200},
		{say: "Ada's checking statement, two entries per page, newest first.",
			method: "GET", url: "/accounts/ada-checking/ledger?limit=2&order=desc&token={token}", want: 200, keep: "next"},
		{say: "The next page, through the cursor of the first.",
			method: "GET", url: "/accounts/ada-checking/ledger?limit=2&order=desc&cursor={next}", want: 200},
		{say: "An account that does not exist is a 404.",
			method: "GET", url: "/accounts/nobody", want: 404},
	}
	for _, st := range steps {
		if st.say != "" {
			fmt.Fprintf(s.out, "\n# %s\n", st.say)
		}
		url := st.url
		for k, v := range s.vars {
			url = strings.ReplaceAll(url, "{"+k+"}", v)
		}
		status, hdr, body, err := s.do(st.method, url, st.body, strings.HasPrefix(url, "/transfers/"))
		if err != nil {
			return err
		}
		s.print(st.method, url, st.body, status, hdr, body)
		if status != st.want {
			return fmt.Errorf("%s %s: status %d, want %d", st.method, url, status, st.want)
		}
		if st.keep != "" {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				return fmt.Errorf("%s %s: %w", st.method, url, err)
			}
			v, _ := m[st.keep].(string)
			s.vars[st.keep] = v
		}
	}
	fmt.Fprintln(s.out, "\nThat's the tour: see examples/bank/README.md for the code behind each step.")
	return nil
}

// do sends one request. With untilDone it repeats a GET while the transfer
// is pending, so that the session shows its outcome.
func (s *session) do(method, url, body string, untilDone bool) (int, http.Header, []byte, error) {
	for {
		req, err := http.NewRequestWithContext(s.ctx, method, s.base+url, strings.NewReader(body))
		if err != nil {
			return 0, nil, nil, err
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, nil, nil, err
		}
		if untilDone && resp.StatusCode == http.StatusOK && bytes.Contains(data, []byte(`"status": "pending"`)) {
			select {
			case <-time.After(50 * time.Millisecond):
				continue
			case <-s.ctx.Done():
				return 0, nil, nil, s.ctx.Err()
			}
		}
		return resp.StatusCode, resp.Header, data, nil
	}
}

func (s *session) print(method, url, body string, status int, hdr http.Header, resp []byte) {
	fmt.Fprintf(s.out, "> %s %s\n", method, url)
	if body != "" {
		fmt.Fprintf(s.out, "> %s\n", body)
	}
	line := fmt.Sprintf("< %d %s", status, http.StatusText(status))
	if t := hdr.Get("X-Consistency-Token"); t != "" {
		line += "   X-Consistency-Token: " + t
	}
	fmt.Fprintln(s.out, line)
	for _, l := range strings.Split(strings.TrimRight(string(resp), "\n"), "\n") {
		fmt.Fprintf(s.out, "< %s\n", l)
	}
}

// cleanUp drops the demo's schema and Redis keys.
func cleanUp(cfg app.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if pool, err := pgxpool.New(ctx, cfg.PostgresURL); err == nil {
		_, _ = pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{cfg.Schema}.Sanitize()+" CASCADE")
		pool.Close()
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, cfg.RedisPrefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Unlink(ctx, iter.Val())
	}
}
