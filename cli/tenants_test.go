package cli

import (
	"strings"
	"testing"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// tenants move copies a tenant to another store and flips the map; run
// again, it does nothing; tenants shard and assign read and edit the map.
func TestTenantsMove(t *testing.T) {
	ctx := t.Context()
	pool, src := testenv.Schema(t)
	_, dst := testenv.Schema(t)
	_, dir := testenv.Schema(t)
	url := testenv.PostgresURL()
	for _, schema := range []string{src, dst, dir} {
		mustCLI(t, "migrate", "--postgres-url", url, "--schema", schema)
	}
	store, _ := pgstore.New(pool, &pgstore.Options{Schema: src})
	acme, _ := store.ForTenant("acme")
	if _, err := acme.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{{Type: "Placed", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	common := []string{"--postgres-url", url, "--schema", src, "--directory-schema", dir, "--fallback-shard", "a"}

	if out := mustCLI(t, append([]string{"tenants", "shard", "acme"}, common...)...); strings.TrimSpace(out) != "a" {
		t.Errorf("before the move acme is on %q, want the fallback a", out)
	}
	move := append([]string{"tenants", "move", "acme", "--to-url", url, "--to-schema", dst, "--to-shard", "b"}, common...)
	if out := mustCLI(t, move...); !strings.Contains(out, "events 1") || !strings.Contains(out, "now on shard b") {
		t.Errorf("tenants move printed %q", out)
	}
	target, _ := pgstore.New(pool, &pgstore.Options{Schema: dst})
	moved, _ := target.ForTenant("acme")
	if recs, err := moved.ReadStream(ctx, "order-1", 0, eventstore.Forward, 0); err != nil || len(recs) != 1 {
		t.Errorf("the target holds %d events of acme's order-1, %v", len(recs), err)
	}
	if _, err := acme.Append(ctx, "order-1", eventstore.Any, []eventstore.Event{{Type: "Placed", Data: []byte(`{}`)}}); err == nil {
		t.Error("acme could still append on the source after the move")
	}
	if out := mustCLI(t, append([]string{"tenants", "shard", "acme"}, common...)...); strings.TrimSpace(out) != "b" {
		t.Errorf("after the move acme is on %q, want b", out)
	}
	if out := mustCLI(t, move...); !strings.Contains(out, "already on shard b") {
		t.Errorf("a second move printed %q", out)
	}
	mustCLI(t, append([]string{"tenants", "assign", "globex", "c"}, common...)...)
	if out := mustCLI(t, append([]string{"tenants", "shard", "globex"}, common...)...); strings.TrimSpace(out) != "c" {
		t.Errorf("after assign globex is on %q, want c", out)
	}
	if _, err := cli(t, "tenants", "move", "acme", "--postgres-url", url); err == nil {
		t.Error("tenants move without --to-url and --fallback-shard succeeded")
	}
}
