package bank_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/console"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"

	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
	"github.com/eventfold/eventfold/examples/bank/readside"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// The web console, in headless Chromium, over the bank running on
// PostgreSQL and Redis: the page lists the bank's projections (found
// through the catalog, never named to the console), shows a stream's
// events, and follows a transfer's correlation ID across its commands,
// events and projections. Screenshots go to $EVENTFOLD_ARTIFACTS, or to
// examples/testdata/artifacts (ignored by git).
func TestConsoleInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	cfg := banktest.Config(t, false)
	api := banktest.Start(t, cfg)

	banktest.Want(t, 201, "POST", api+"/accounts", `{"id":"ada","owner":"Ada Lovelace","overdraft_limit":5000}`)
	banktest.Want(t, 201, "POST", api+"/accounts", `{"id":"bob","owner":"Bob"}`)
	banktest.Want(t, 200, "POST", api+"/accounts/ada/deposits", `{"amount":10000}`)
	const flow = "req-transfer-t1"
	r := banktest.Want(t, 202, "POST", api+"/transfers", `{"id":"t1","from":"ada","to":"bob","amount":2500}`, "X-Request-ID", flow)
	if tr := banktest.Transfer(t, api, "t1", r.Token()); tr.Str("status") != "completed" {
		t.Fatalf("transfer: %s", tr.Raw)
	}

	base := startConsole(t, cfg.PostgresURL, cfg.Schema, cfg.RedisURL, cfg.RedisPrefix, "s3cret")
	ctx := browser(t, chromium)
	artifacts := artifactDir(t)

	// Projections: every one the bank runs, listed without being named.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/?token=s3cret#/projections"),
		chromedp.WaitVisible(`#projections tbody tr[data-projection="`+readside.TransfersName+`"]`),
		chromedp.WaitVisible(`#lag-chart svg polyline`),
	); err != nil {
		t.Fatalf("projections view: %v", err)
	}
	names := evalStrings(t, ctx, `Array.from(document.querySelectorAll("#projections tbody tr")).map(r => r.dataset.projection)`)
	want := []string{readside.AccountsName, readside.LedgerName, readside.TransfersName}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("projections listed %v, want %v", names, want)
	}
	if href, err := chromedp.Run(ctx, chromedp.Location()); err != nil || strings.Contains(href, "s3cret") {
		t.Errorf("the token stayed in the address bar: %s (%v)", href, err)
	}
	screenshot(t, ctx, filepath.Join(artifacts, "console.png"))

	// Streams: pick ada's account from the list and see its events.
	if err := chromedp.Do(ctx,
		chromedp.Click(`nav a[data-view="streams"]`),
		chromedp.SetValue(`#stream-prefix`, "account-"),
		chromedp.Click(`#stream-search button`), // Submit would call form.submit(), which skips the page's handler
		chromedp.WaitNotPresent(`#streams li[data-stream="transfer-t1"]`),
		chromedp.WaitVisible(`#streams li[data-stream="account-bob"]`),
		chromedp.Click(`#streams li[data-stream="account-ada"] a`),
		chromedp.WaitVisible(`#stream-events tbody tr`),
	); err != nil {
		t.Fatalf("streams view: %v", err)
	}
	types := evalStrings(t, ctx, `Array.from(document.querySelectorAll("#stream-events tbody td.type")).map(td => td.textContent)`)
	if want := []string{"AccountOpened", "MoneyDeposited", "MoneyWithdrawn"}; !slices.Equal(types, want) {
		t.Errorf("account-ada's events on the page: %v, want %v", types, want)
	}
	screenshot(t, ctx, filepath.Join(artifacts, "console-stream.png"))

	// Correlation: the transfer's flow across both accounts and the
	// transfer, each event passed by every projection.
	if err := chromedp.Do(ctx,
		chromedp.Click(`nav a[data-view="correlation"]`),
		chromedp.SetValue(`#correlation-id`, flow),
		chromedp.Click(`#correlation-search button`),
		chromedp.WaitVisible(`#correlation-events tbody tr`),
	); err != nil {
		t.Fatalf("correlation view: %v", err)
	}
	types = evalStrings(t, ctx, `Array.from(document.querySelectorAll("#correlation-events tbody td.type")).map(td => td.textContent)`)
	if want := []string{"TransferRequested", "MoneyWithdrawn", "MoneyDeposited", "TransferCompleted"}; !slices.Equal(types, want) {
		t.Errorf("the flow's events on the page: %v, want %v", types, want)
	}
	commands := evalStrings(t, ctx, `Array.from(document.querySelectorAll("#commands li")).map(li => li.textContent)`)
	badges := evalStrings(t, ctx, `Array.from(document.querySelectorAll("#correlation-events .badge")).map(b => b.className)`)
	if len(commands) != 4 || len(badges) != 4*len(want) || slices.Contains(badges, "badge pending") {
		t.Errorf("the flow shows commands %q and projection badges %v; want 4 commands, every event applied by all 4 projections", commands, badges)
	}
	screenshot(t, ctx, filepath.Join(artifacts, "console-correlation.png"))

	// A transaction left open hides the next deposit from every projection:
	// the projections page says so, and stops once it ends.
	pool, err := pgxpool.New(t.Context(), cfg.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // after HoldLog's own cleanup: Close waits for its connection
	_, endHold := testenv.HoldLog(t, pool)
	banktest.Want(t, 200, "POST", api+"/accounts/bob/deposits", `{"amount":1}`)
	if err := chromedp.Do(ctx,
		chromedp.Click(`nav a[data-view="projections"]`),
		chromedp.WaitVisible(`#held-back`),
	); err != nil {
		t.Fatalf("held-back banner: %v", err)
	}
	if text := evalStrings(t, ctx, `[document.getElementById("held-back").textContent]`)[0]; !strings.Contains(text, "held back from every projection") {
		t.Errorf("held-back banner says %q", text)
	}
	screenshot(t, ctx, filepath.Join(artifacts, "console-held-back.png"))
	endHold()
	if err := chromedp.Do(ctx, chromedp.WaitNotVisible(`#held-back`)); err != nil {
		t.Errorf("held-back banner after the transaction ended: %v", err)
	}
}

func evalStrings(t *testing.T, ctx context.Context, js string) []string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// chromiumPath finds Chromium: $EVENTFOLD_CHROMIUM, else Debian's.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("EVENTFOLD_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		servicetest.Unavailable(t, "Chromium (apt-get install chromium; scripts/services.sh installs it)", err)
	}
	return path
}

// browser starts a headless Chromium with an empty profile that talks to
// nothing but the test's servers, for the length of the test.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// startConsole serves the console over the bank's event store and read
// models on a free port of 127.0.0.1, sampling lag often so the chart has
// points, and returns its URL.
func startConsole(t *testing.T, pgURL, schema, redisURL, prefix, token string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ropts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ropts)
	rm, err := redisstore.New(rdb, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for every projection to pass the head, so the page shows them
	// caught up and the flow fully applied.
	head, err := store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{readside.AccountsName, readside.LedgerName, readside.TransfersName} {
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		err := projection.WaitFor(wctx, rm, name, "", head)
		wcancel()
		if err != nil {
			t.Fatalf("projection %s: %v", name, err)
		}
	}
	srv, err := console.New(console.Config{Events: consoleEvents{store}, ReadModels: rm, Token: token, SampleEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("console: %v", err)
		}
		rdb.Close()
		pool.Close()
	})
	return "http://" + ln.Addr().String()
}

// consoleEvents gives the console pgstore's stream listing with a prefix,
// as the eventfold command does.
type consoleEvents struct{ *pgstore.Store }

func (e consoleEvents) ListStreams(ctx context.Context, prefix, after string, limit int) ([]console.StreamInfo, error) {
	infos, err := e.Store.ListStreamsWithPrefix(ctx, prefix, after, limit)
	out := make([]console.StreamInfo, len(infos))
	for i, s := range infos {
		out[i] = console.StreamInfo{ID: s.ID, Version: s.Version}
	}
	return out, err
}

var _ console.Events = consoleEvents{}
var _ eventstore.Store = consoleEvents{}

// artifactDir returns where screenshots go: $EVENTFOLD_ARTIFACTS, else
// examples/testdata/artifacts.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EVENTFOLD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
