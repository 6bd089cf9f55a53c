package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/cli"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// Scaffolds an application against this working tree, then vets and tests it
// the way docs/getting-started.md does: the generated tests run against the
// real PostgreSQL and Redis, and fail rather than skip under CI=true or
// EVENTFOLD_REQUIRE_SERVICES=1.
func TestNewBuildsAndPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy, go vet and go test in a generated module")
	}
	dir := filepath.Join(t.TempDir(), "shop")
	var out bytes.Buffer
	// No --replace: from a checkout, new points the app at the checkout.
	if err := run([]string{"new", "example.com/shop", "--aggregate", "Order", "--dir", dir}, &out, &out); err != nil {
		t.Fatalf("eventfold new: %v\n%s", err, out.String())
	}
	for _, f := range []string{"go.mod", "go.sum", "README.md", "Makefile", "main.go", "internal/order/decider.go", "internal/order/decider_test.go", "internal/views/views.go", "internal/httpapi/api.go", "internal/app/app_test.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("generated app lacks %s", f)
		}
	}
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	if out := goCmd("run", "cmd/gofmt", "-l", "."); strings.TrimSpace(out) != "" {
		t.Errorf("gofmt would change: %s", out)
	}
	// make test: gofmt, go vet, and the tests against the services.
	mk := exec.Command("make", "test")
	mk.Dir = dir
	mk.Env = append(os.Environ(), "EVENTFOLD_TEST_POSTGRES_URL="+testenv.PostgresURL(), "EVENTFOLD_TEST_REDIS_URL="+testenv.RedisURL())
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make test: %v\n%s", err, b)
	}
	smokeRun(t, dir, goCmd)
}

// smokeRun does what the guide does after make run, with two replicas of the
// app on a schema and Redis prefix of the test's own, given through the
// environment variables the app's --help names: create an order through
// one, read it back through both with the consistency token, check that the
// replicas share the projection instead of both running it, then switch to
// a newer version of the projection (blue-green) and check that both retire
// theirs cleanly, keep serving, and stop with status 0.
func smokeRun(t *testing.T, dir string, goCmd func(...string) string) {
	goCmd("build", "-o", "shop-bin", ".")
	pool, schema := testenv.Schema(t)
	rdb, prefix := testenv.Redis(t)
	prefix += ":"
	env := append(os.Environ(), "EVENTFOLD_POSTGRES_URL="+testenv.PostgresURL(), "EVENTFOLD_REDIS_URL="+testenv.RedisURL(),
		"EVENTFOLD_SCHEMA="+schema, "EVENTFOLD_REDIS_PREFIX="+prefix)
	one := startShop(t, dir, env)
	two := startShop(t, dir, env)

	resp, err := http.Post(one.base+"/orders", "application/json", strings.NewReader(`{"id":"o-1","name":"My first order"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	token := resp.Header.Get("X-Consistency-Token")
	if resp.StatusCode != http.StatusCreated || token == "" {
		t.Fatalf("POST /orders: %d, token %q\n%s", resp.StatusCode, token, one.output())
	}
	for _, s := range []*shopProcess{one, two} {
		if status, body := get(t, s.base+"/orders/o-1?token="+token); status != http.StatusOK || !strings.Contains(body, "My first order") {
			t.Errorf("GET /orders/o-1 from %s: %d %s\n%s", s.base, status, body, s.output())
		}
	}

	// The replicas share the projection's one partition: one runs it.
	var held int
	for range 50 {
		held = 0
		for _, s := range []*shopProcess{one, two} {
			_, body := get(t, s.base+"/healthz")
			var h struct{ Partitions []any }
			if err := json.Unmarshal([]byte(body), &h); err != nil {
				t.Fatalf("GET /healthz: %s: %v", body, err)
			}
			held += len(h.Partitions)
		}
		if held == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if held != 1 {
		t.Errorf("the two replicas run the orders projection %d times, want once between them", held)
	}

	// The same binary carries the operational commands, over the app's
	// schema, Redis prefix and projections, from the same environment.
	status := exec.Command(filepath.Join(dir, "shop-bin"), "projections", "status", "--json", "orders")
	status.Env = env
	out, err := status.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"projection": "orders"`) || !strings.Contains(string(out), `"active": true`) {
		t.Errorf("shop-bin projections status orders, with the app's EVENTFOLD_SCHEMA and EVENTFOLD_REDIS_PREFIX: %v\n%s", err, out)
	}
	help, err := exec.Command(filepath.Join(dir, "shop-bin"), "--help").CombinedOutput()
	for _, sub := range []string{"worker", "projections", "migrate"} {
		if err != nil || !strings.Contains(string(help), sub) {
			t.Errorf("shop-bin --help: %v; want %q listed in\n%s", err, sub, help)
		}
	}

	switchToVersion2(t, pool, schema, rdb, prefix)
	for _, s := range []*shopProcess{one, two} {
		testenv.Eventually(t, 20*time.Second, func() bool { return strings.Contains(s.output(), "retired") || s.hasExited() },
			"the replica at %s to retire version 1", s.base)
	}
	time.Sleep(2 * time.Second) // long enough for a retired replica to exit, were it to
	for _, s := range []*shopProcess{one, two} {
		if status, _ := get(t, s.base+"/orders?name=x"); status != http.StatusOK {
			t.Errorf("after the switch, GET /orders from %s: %d\n%s", s.base, status, s.output())
		}
		s.stop(t)
		if strings.Contains(s.output(), "level=ERROR") {
			t.Errorf("the replica at %s logged an error:\n%s", s.base, s.output())
		}
	}
}

// switchToVersion2 runs version 2 of the orders projection until it is the
// active one, as a blue-green deployment of a new version does.
func switchToVersion2(t *testing.T, pool *pgxpool.Pool, schema string, rdb *redis.Client, prefix string) {
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	readModels, err := redisstore.New(rdb, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	v2 := projection.New("orders", "2", nil)
	v2.On("OrderCreated", func(context.Context, *projection.Tx, eventstore.Record) error { return nil })
	r, err := projection.NewRunner(projection.Config{Projection: v2, Source: projection.LogSource(store, nil), Store: readModels})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 20*time.Second, func() bool { return r.Status().Active }, "version 2 of orders to become active")
}

// shopProcess is a running replica of the scaffolded app.
type shopProcess struct {
	cmd    *exec.Cmd
	base   string
	mu     sync.Mutex
	logs   bytes.Buffer
	exited chan struct{}
	err    error
}

func (p *shopProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func (p *shopProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *shopProcess) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// startShop starts the app on a free port and waits until it serves.
func startShop(t *testing.T, dir string, env []string) *shopProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &shopProcess{cmd: exec.Command(filepath.Join(dir, "shop-bin")), base: "http://" + addr, exited: make(chan struct{})}
	p.cmd.Env = append(env, "ADDR="+addr)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if !p.hasExited() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	for i := 0; ; i++ {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		if i > 100 || p.hasExited() {
			t.Fatalf("app did not start: %v\n%s", err, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop interrupts the app and wants it to exit with status 0.
func (p *shopProcess) stop(t *testing.T) {
	t.Helper()
	if p.hasExited() {
		t.Errorf("the app at %s had exited: %v\n%s", p.base, p.err, p.output())
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the app at %s did not stop within 20s\n%s", p.base, p.output())
	}
	if p.err != nil {
		t.Errorf("the app at %s exited with %v\n%s", p.base, p.err, p.output())
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"old", "example.com/x"},
		{"new"},
		{"new", "Not A Path"},
		{"new", "example.com/x", "--aggregate", "order"},
		{"new", "example.com/x", "--replace", t.TempDir()},
	} {
		var out bytes.Buffer
		if err := run(args, &out, &out); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

func TestNewRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"new", "example.com/x", "--dir", dir, "--no-tidy"}, &out, &out); err == nil {
		t.Error("wrote into a non-empty folder")
	}
}

func TestRootHelpListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if err := cli.Execute(t.Context(), []string{"--help"}, options(&out, &out)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"new", "migrate", "streams", "projections", "relay"} {
		if !strings.Contains(out.String(), "  "+want+" ") {
			t.Errorf("eventfold --help lacks %q:\n%s", want, out.String())
		}
	}
}

// new --help describes every flag, not only names it.
func TestNewHelpDescribesEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if err := cli.Execute(t.Context(), []string{"new", "--help"}, options(&out, &out)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-aggregate", "name of the aggregate", "-dir", "folder to write", "-replace", "local eventfold checkout", "-no-tidy", "go mod tidy"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("new --help lacks %q:\n%s", want, out.String())
		}
	}
}

// generated scaffolds an application with aggregate name and returns its
// files by path.
func generated(t *testing.T, name string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"new", "example.com/x", "--aggregate", name, "--dir", dir, "--no-tidy"}, &out, &out); err != nil {
		t.Fatalf("new --aggregate %s: %v\n%s", name, err, out.String())
	}
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// The generated text uses the aggregate's plural and article.
func TestNewWritesPluralsAndArticles(t *testing.T) {
	for _, c := range []struct{ name, plural, article string }{
		{"Category", "categories", "a"},
		{"Item", "items", "an"},
		{"Order", "orders", "an"},
		{"Box", "boxes", "a"},
		{"Address", "addresses", "an"},
		{"Batch", "batches", "a"},
		{"Day", "days", "a"},
		{"Unit", "units", "a"},
	} {
		lower := strings.ToLower(c.name)
		files := generated(t, c.name)
		if views := files["internal/views/views.go"]; !strings.Contains(views, `ProjectionName = "`+c.plural+`"`) {
			t.Errorf("%s: the projection is not named %q", c.name, c.plural)
		}
		wrong := "an"
		if c.article == "an" {
			wrong = "a"
		}
		for path, text := range files {
			if strings.Contains(text, " "+wrong+" "+lower+" ") || strings.Contains(text, " "+wrong+" "+lower+".") {
				t.Errorf("%s: %s says %q", c.name, path, wrong+" "+lower)
			}
			if c.plural != lower+"s" && strings.Contains(text, lower+"s") {
				t.Errorf("%s: %s says %q", c.name, path, lower+"s")
			}
		}
	}
}

// The page the list endpoint returns has JSON names, like the documents.
func TestNewPageHasJSONTags(t *testing.T) {
	views := generated(t, "Item")["internal/views/views.go"]
	for _, want := range []string{"type ItemPage struct", "`json:\"items\"`", "`json:\"next,omitempty\"`"} {
		if !strings.Contains(views, want) {
			t.Errorf("internal/views/views.go lacks %s", want)
		}
	}
}

// The generated server bounds every phase of a connection.
func TestNewServerHasTimeouts(t *testing.T) {
	main := generated(t, "Order")["main.go"]
	for _, want := range []string{"ReadHeaderTimeout:", "ReadTimeout:", "WriteTimeout:", "IdleTimeout:"} {
		if !strings.Contains(main, want) {
			t.Errorf("the generated main.go sets no %s", want)
		}
	}
}

// Without --replace, new run from a checkout (go run ./cmd/eventfold, or
// a binary built there) points the application at that checkout.
func TestNewDefaultsToThisCheckout(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	gomod := generated(t, "Order")["go.mod"]
	if want := "replace github.com/eventfold/eventfold => " + filepath.ToSlash(root); !strings.Contains(gomod, want) {
		t.Errorf("go.mod lacks %q:\n%s", want, gomod)
	}
}

// The framework's location comes from the scaffolder's source path: a
// checkout, the module cache (a published version), or nothing it can
// tell, which is a clear error.
func TestFrameworkFromSource(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fw, err := frameworkFrom(filepath.Join(root, "cmd", "eventfold", "main.go"))
	if err != nil || fw.Replace != filepath.ToSlash(root) || fw.Version != "" {
		t.Errorf("from the checkout: %+v, %v", fw, err)
	}
	fw, err = frameworkFrom("github.com/eventfold/eventfold@v1.4.0/cmd/eventfold/main.go")
	if err != nil || fw.Replace != "" || fw.Version != "v1.4.0" {
		t.Errorf("from the module cache, -trimpath: %+v, %v", fw, err)
	}
	_, err = frameworkFrom("github.com/eventfold/eventfold/cmd/eventfold/main.go")
	if err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Errorf("from a -trimpath build of a checkout: %v, want an error that suggests --replace", err)
	}
	_, err = frameworkFrom(filepath.Join(t.TempDir(), "cmd", "eventfold", "main.go"))
	if err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Errorf("from a moved checkout: %v, want an error that suggests --replace", err)
	}
}
