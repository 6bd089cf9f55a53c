package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/cli"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// The bank's binary mounts the operational command line with its
// projections compiled in.
func TestOpsCommandsKnowTheBanksProjections(t *testing.T) {
	servicetest.Postgres(t)
	servicetest.Redis(t)
	var out, errOut bytes.Buffer
	opts, err := opsOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Stdout, opts.Stderr = &out, &errOut
	if err := cli.Execute(t.Context(), []string{"worker", "--help"}, opts); err != nil || !strings.Contains(out.String(), "--only") {
		t.Fatalf("worker --help: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := cli.Execute(t.Context(), []string{"projections", "rebuild", "--help"}, opts); err != nil || !strings.Contains(out.String(), "rebuild NAME") {
		t.Fatalf("projections rebuild --help: %v\n%s", err, out.String())
	}
	args := []string{"worker", "--only", "nope", "--postgres-url", servicetest.PostgresURL(), "--redis-url", servicetest.RedisURL()}
	err = cli.Execute(t.Context(), args, opts)
	if err == nil || !strings.Contains(err.Error(), "accounts, ledger, transfers") {
		t.Errorf("worker --only nope: %v; want the list of the bank's projections", err)
	}
}
