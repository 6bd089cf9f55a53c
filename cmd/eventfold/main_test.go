package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/cli"
)

// Scaffolds an application against this working tree, then vets and tests it
// the way docs/getting-started.md does: the generated tests run against the
// real PostgreSQL and Redis, and fail rather than skip under CI=true or
// EVENTFOLD_REQUIRE_SERVICES=1.
func TestNewBuildsAndPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy, go vet and go test in a generated module")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "shop")
	var out bytes.Buffer
	if err := run([]string{"new", "example.com/shop", "--aggregate", "Order", "--dir", dir, "--replace", root}, &out, &out); err != nil {
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
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make test: %v\n%s", err, b)
	}
	smokeRun(t, dir, goCmd)
}

// smokeRun does what the guide does after make run: start the app, create
// a document, and read it back with the consistency token.
func smokeRun(t *testing.T, dir string, goCmd func(...string) string) {
	goCmd("build", "-o", "shop-bin", ".")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	schema := fmt.Sprintf("gs_%d", time.Now().UnixNano())
	cmd := exec.Command(filepath.Join(dir, "shop-bin"))
	cmd.Env = append(os.Environ(), "ADDR="+addr)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	base := "http://" + addr
	var resp *http.Response
	for i := 0; ; i++ {
		resp, err = http.Post(base+"/orders", "application/json", strings.NewReader(`{"id":"`+schema+`","name":"My first order"}`))
		if err == nil {
			break
		}
		if i > 100 {
			t.Fatalf("app did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp.Body.Close()
	token := resp.Header.Get("X-Consistency-Token")
	if resp.StatusCode != http.StatusCreated || token == "" {
		t.Fatalf("POST /orders: %d, token %q\n%s", resp.StatusCode, token, logs.String())
	}
	resp, err = http.Get(base + "/orders/" + schema + "?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "My first order") {
		t.Fatalf("GET /orders/{id}: %d %s\n%s", resp.StatusCode, body, logs.String())
	}

	// The same binary carries the operational commands, over the app's
	// own schema, Redis prefix and projections.
	status := exec.Command(filepath.Join(dir, "shop-bin"), "projections", "status", "--json", "orders")
	out, err := status.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"projection": "orders"`) || !strings.Contains(string(out), `"active": true`) {
		t.Fatalf("shop-bin projections status orders: %v\n%s", err, out)
	}
	help, err := exec.Command(filepath.Join(dir, "shop-bin"), "--help").CombinedOutput()
	for _, sub := range []string{"worker", "projections", "migrate"} {
		if err != nil || !strings.Contains(string(help), sub) {
			t.Errorf("shop-bin --help: %v; want %q listed in\n%s", err, sub, help)
		}
	}
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
