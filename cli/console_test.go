package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// The console command serves the catalogued projections, wants its token
// from the environment, and stops when its context ends.
func TestConsoleCommand(t *testing.T) {
	pool, schema := testenv.Schema(t)
	client, prefix := testenv.Redis(t)
	ctx := t.Context()
	if err := pgstore.Migrate(ctx, pool, &pgstore.Options{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	rm, err := redisstore.New(client, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`),
		Metadata: eventstore.Metadata{CorrelationID: "req-1", CausationID: "cmd-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	runner, err := projection.NewRunner(projection.Config{Projection: projection.New("orders", "1", nil), Source: projection.LogSource(store, nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRunner := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- runner.Run(runCtx) }()
	t.Cleanup(func() { stopRunner(); <-ran })
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := projection.WaitFor(waitCtx, rm, "orders", "", res.Position); err != nil {
		t.Fatal(err)
	}

	t.Setenv(consoleTokenEnv, "t0ken")
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Execute(serveCtx, []string{"console", "--listen", "127.0.0.1:0", "--postgres-url", testenv.PostgresURL(), "--schema", schema,
			"--redis-url", testenv.RedisURL(), "--redis-prefix", prefix}, Options{Stdout: w, Stderr: io.Discard})
		w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("console printed %q: %v (run: %v)", line, err, <-done)
	}
	go io.Copy(io.Discard, out)
	if strings.Contains(line, "t0ken") {
		t.Errorf("the console printed its token: %q", line)
	}
	base, _, _ := strings.Cut(strings.TrimPrefix(line, "console on "), " ")

	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, _ := get("api/projections", ""); status != http.StatusUnauthorized {
		t.Errorf("without the token: %d", status)
	}
	status, body := get("api/projections", "t0ken")
	var ps []struct{ Name, State, Head string }
	if err := json.Unmarshal([]byte(body), &ps); status != 200 || err != nil || len(ps) != 1 || ps[0].Name != "orders" || ps[0].State != "caught up" {
		t.Errorf("projections: %d %s", status, body)
	}
	if status, body := get("api/correlation/req-1", "t0ken"); status != 200 || !strings.Contains(body, `"cmd-1"`) || !strings.Contains(body, `"applied"`) {
		t.Errorf("correlation: %d %s", status, body)
	}
	if status, body := get("api/streams?prefix=order-", "t0ken"); status != 200 || !strings.Contains(body, `"order-1"`) {
		t.Errorf("streams: %d %s", status, body)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("console after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("console did not stop on cancel")
	}
}
