package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	goCmd("vet", "./...")
	out.Reset()
	t.Log(goCmd("test", "-count=1", "./..."))
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
