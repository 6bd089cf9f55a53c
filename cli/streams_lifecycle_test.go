package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

func TestStreamsDeleteAndTruncate(t *testing.T) {
	pool, schema := testenv.Schema(t)
	pg := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ev := []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}, {Type: "C", Data: []byte(`{}`)}}
	for _, id := range []string{"soft-1", "hard-1", "trunc-1"} {
		if _, err := store.Append(ctx, id, eventstore.NoStream, ev); err != nil {
			t.Fatal(err)
		}
	}
	tenant, err := store.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.Append(ctx, "acme-1", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}

	if _, err := cli(t, append([]string{"streams", "delete", "soft-1", "--expected-version", "2"}, pg...)...); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("streams delete at the wrong version = %v, want ErrConcurrency", err)
	}
	if out := mustCLI(t, append([]string{"streams", "delete", "soft-1", "--expected-version", "3"}, pg...)...); !strings.Contains(out, `"soft-1" deleted (soft)`) {
		t.Errorf("streams delete printed %q", out)
	}
	if _, err := store.ReadStream(ctx, "soft-1", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("soft-1 after streams delete: %v, want ErrStreamNotFound", err)
	}

	// A hard delete wants the stream ID typed back.
	hard := func(answer string, extra ...string) error {
		var out, errOut bytes.Buffer
		args := append(append([]string{"streams", "delete", "hard-1", "--hard"}, extra...), pg...)
		return Execute(ctx, args, Options{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(answer)})
	}
	for _, answer := range []string{"", "y\n", "hard-2\n"} {
		if err := hard(answer); !errors.Is(err, errNotConfirmed) {
			t.Errorf("streams delete --hard answered %q = %v, want it not confirmed", answer, err)
		}
	}
	if _, err := store.ReadStream(ctx, "hard-1", 0, eventstore.Forward, 0); err != nil {
		t.Fatalf("hard-1 after unconfirmed deletes: %v", err)
	}
	if err := hard("hard-1\n"); err != nil {
		t.Fatalf("confirmed streams delete --hard = %v", err)
	}
	if _, err := store.Append(ctx, "hard-1", eventstore.Any, ev); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("append to hard-1 after streams delete --hard = %v, want ErrStreamDeleted", err)
	}
	if _, err := tenant.Append(ctx, "hard-1", eventstore.NoStream, ev); err != nil {
		t.Errorf("tenant acme's own hard-1 after the default tenant's delete: %v", err)
	}

	// --tenant confines the delete: the default tenant has no acme-1.
	if _, err := cli(t, append([]string{"streams", "delete", "acme-1", "--hard", "--yes"}, pg...)...); err != nil {
		t.Errorf("hard delete of the default tenant's acme-1, which never existed: %v", err)
	}
	if _, err := tenant.ReadStream(ctx, "acme-1", 0, eventstore.Forward, 0); err != nil {
		t.Errorf("acme's acme-1 after the default tenant's delete: %v", err)
	}
	mustCLI(t, append([]string{"streams", "delete", "acme-1", "--tenant", "acme", "--hard", "--yes"}, pg...)...)
	if _, err := tenant.ReadStream(ctx, "acme-1", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("acme's acme-1 after streams delete --tenant acme: %v, want ErrStreamDeleted", err)
	}

	if out := mustCLI(t, append([]string{"streams", "truncate", "trunc-1", "--before", "3"}, pg...)...); !strings.Contains(out, "truncated before version 3") {
		t.Errorf("streams truncate printed %q", out)
	}
	if out := mustCLI(t, append([]string{"streams", "show", "trunc-1"}, pg...)...); strings.Contains(out, "#1 ") || !strings.Contains(out, "#3 C") {
		t.Errorf("streams show after truncating before 3:\n%s", out)
	}
	if out := mustCLI(t, append([]string{"streams", "truncate", "trunc-1", "--before", "2"}, pg...)...); !strings.Contains(out, "already truncated") {
		t.Errorf("streams truncate below the earlier one printed %q", out)
	}
	if _, err := cli(t, append([]string{"streams", "truncate", "trunc-1"}, pg...)...); err == nil {
		t.Error("streams truncate without --before succeeded")
	}

	if out := mustCLI(t, append([]string{"streams", "metadata", "trunc-1", "--max-count", "1"}, pg...)...); !strings.Contains(out, "max age none, max count 1") {
		t.Errorf("streams metadata --max-count 1 printed %q", out)
	}
	if out := mustCLI(t, append([]string{"streams", "metadata", "trunc-1"}, pg...)...); !strings.Contains(out, "max count 1") {
		t.Errorf("streams metadata printed %q", out)
	}
	// soft-1's three events, trunc-1's first two.
	if out := mustCLI(t, append([]string{"streams", "reclaim"}, pg...)...); !strings.Contains(out, "reclaimed 5 events") {
		t.Errorf("streams reclaim printed %q", out)
	}
	if out := mustCLI(t, append([]string{"streams", "reclaim", "--all-tenants"}, pg...)...); !strings.Contains(out, "reclaimed 0 events") {
		t.Errorf("second streams reclaim printed %q", out)
	}
}

func TestStreamsArchive(t *testing.T) {
	pool, schema := testenv.Schema(t)
	pg := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ev := []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}}
	if _, err := store.Append(ctx, "done-1", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}
	tenant, err := store.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.Append(ctx, "done-1", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}

	if _, err := cli(t, append([]string{"streams", "archive", "done-1", "--expected-version", "1"}, pg...)...); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("streams archive at the wrong version = %v, want ErrConcurrency", err)
	}
	if out := mustCLI(t, append([]string{"streams", "archive", "done-1", "--expected-version", "2"}, pg...)...); !strings.Contains(out, `"done-1" archived at position`) {
		t.Errorf("streams archive printed %q", out)
	}
	if _, err := store.Append(ctx, "done-1", eventstore.Any, ev); !errors.Is(err, eventstore.ErrStreamArchived) {
		t.Errorf("append to done-1 after streams archive = %v, want ErrStreamArchived", err)
	}
	out := mustCLI(t, append([]string{"streams", "archive", "done-1", "--read"}, pg...)...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "1\t") || !strings.Contains(lines[1], "\tB\t") {
		t.Errorf("streams archive --read printed %q, want versions 1 (A) and 2 (B)", out)
	}
	if _, err := cli(t, append([]string{"streams", "archive", "done-1"}, pg...)...); !errors.Is(err, eventstore.ErrStreamArchived) {
		t.Errorf("second streams archive = %v, want ErrStreamArchived", err)
	}

	// --tenant confines the archive: acme's done-1 is its own.
	if _, err := tenant.Append(ctx, "done-1", eventstore.Exact(2), ev); err != nil {
		t.Errorf("acme's done-1 after the default tenant's archive: %v", err)
	}
	mustCLI(t, append([]string{"streams", "archive", "done-1", "--tenant", "acme"}, pg...)...)
	if _, err := tenant.ReadStream(ctx, "done-1", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamArchived) {
		t.Errorf("acme's done-1 after streams archive --tenant acme: %v, want ErrStreamArchived", err)
	}
}
