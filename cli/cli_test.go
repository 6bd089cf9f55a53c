package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// cli runs the command line and returns its standard output.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Execute(t.Context(), args, Options{Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Logf("eventfold %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cli(t, args...)
	if err != nil {
		t.Fatalf("eventfold %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func TestMigrateAndStreams(t *testing.T) {
	pool, schema := testenv.Schema(t)
	pg := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema}
	out := mustCLI(t, append([]string{"migrate"}, pg...)...)
	if !strings.Contains(out, "up to date") {
		t.Errorf("migrate printed %q", out)
	}
	mustCLI(t, append([]string{"migrate"}, pg...)...) // idempotent
	indexed := func() bool {
		var n int
		if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'events_correlation_id'", schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if indexed() {
		t.Error("migrate without --correlation-index built the correlation index")
	}
	if out := mustCLI(t, append([]string{"migrate", "--correlation-index"}, pg...)...); !strings.Contains(out, "indexed by correlation ID") || !indexed() {
		t.Errorf("migrate --correlation-index printed %q; index built: %v", out, indexed())
	}
	enforced := func() bool {
		var enabled string
		if err := pool.QueryRow(t.Context(), "SELECT tgenabled FROM pg_trigger WHERE tgname = 'events_version_order' AND tgrelid = $1::regclass",
			pgx.Identifier{schema, "events"}.Sanitize()).Scan(&enabled); err != nil {
			t.Fatal(err)
		}
		return enabled != "D"
	}
	if enforced() {
		t.Error("migrate alone enforces the version order")
	}
	if out := mustCLI(t, append([]string{"migrate", "--enforce-version-order"}, pg...)...); !strings.Contains(out, "refuses versions out of order") || !enforced() {
		t.Errorf("migrate --enforce-version-order printed %q; enforced: %v", out, enforced())
	}

	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := store.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{
		{Type: "OrderPlaced", Data: []byte(`{"item":"tea"}`), Metadata: eventstore.Metadata{CorrelationID: "req-7"}},
		{Type: "OrderShipped", Data: []byte(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "order-2", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}

	table := mustCLI(t, append([]string{"streams", "list"}, pg...)...)
	for _, want := range []string{"STREAM", "order-1  2", "order-2  1"} {
		if !strings.Contains(table, want) {
			t.Errorf("streams list lacks %q:\n%s", want, table)
		}
	}
	var page []pgstore.StreamInfo
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"streams", "list", "--json", "--after", "order-1"}, pg...)...)), &page); err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].ID != "order-2" {
		t.Errorf("streams list --after order-1 --json = %+v, want order-2 only", page)
	}

	text := mustCLI(t, append([]string{"streams", "show", "order-1"}, pg...)...)
	for _, want := range []string{"#1 OrderPlaced", `{"item":"tea"}`, "correlation req-7", "#2 OrderShipped"} {
		if !strings.Contains(text, want) {
			t.Errorf("streams show lacks %q:\n%s", want, text)
		}
	}
	var recs []struct {
		Version  int64
		Type     string
		Data     map[string]string
		Metadata eventstore.Metadata
	}
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"streams", "show", "order-1", "--json"}, pg...)...)), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Data["item"] != "tea" || recs[0].Metadata.CorrelationID != "req-7" || recs[1].Type != "OrderShipped" {
		t.Errorf("streams show --json = %+v", recs)
	}
	if _, err := cli(t, append([]string{"streams", "show", "nope"}, pg...)...); err == nil {
		t.Error("streams show of a missing stream succeeded")
	}
}

func TestProjectionsStatus(t *testing.T) {
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
	args := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema,
		"--redis-url", testenv.RedisURL(), "--redis-prefix", prefix}

	out := mustCLI(t, append([]string{"projections", "status", "orders"}, args...)...)
	if !strings.Contains(out, "(not built)") {
		t.Errorf("status of a projection never run:\n%s", out)
	}
	if out := mustCLI(t, append([]string{"projections", "status", "--json"}, args...)...); strings.TrimSpace(out) != "[]" {
		t.Errorf("status of every catalogued projection, none run yet: %s", out)
	}

	p := projection.New("orders", "3", nil)
	p.On("OrderPlaced", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		tx.Put(rec.StreamID, rec.Data)
		return nil
	})
	runner, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(store, nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	res, err := store.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := projection.WaitFor(waitCtx, rm, "orders", "", res.Position); err != nil {
		t.Fatal(err)
	}

	var lines []partitionStatus
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"projections", "status", "orders", "--json"}, args...)...)), &lines); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 {
		t.Fatalf("status --json = %+v, want one partition", lines)
	}
	l := lines[0]
	if l.Version != "3" || !l.Active || !l.Ready || l.Position != res.Position.String() || l.LagEvents != 0 || l.Head != res.Position.String() {
		t.Errorf("status = %+v; want version 3, active, at %s with no lag", l, res.Position)
	}
	var all []partitionStatus // no names: the projections the catalog lists
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"projections", "status", "--json"}, args...)...)), &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0] != l {
		t.Errorf("status without names = %+v, want %+v", all, l)
	}

	stop() // stopped projection, then the log moves on: the lag shows
	<-done
	done <- nil
	res2, err := store.Append(ctx, "order-2", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	table := mustCLI(t, append([]string{"projections", "status", "orders"}, args...)...)
	wantLag := res2.Position.Sequence - res.Position.Sequence
	for _, want := range []string{"PROJECTION", "LAG", "orders", res.Position.String(), res2.Position.String()} {
		if !strings.Contains(table, want) {
			t.Errorf("status table lacks %q:\n%s", want, table)
		}
	}
	// Another test's transaction may hold the log back for a moment, which
	// adds a HELD BACK paragraph after the table.
	rows, _, _ := strings.Cut(table, "\nHELD BACK")
	if !strings.HasSuffix(strings.TrimSpace(rows), " "+strconv.FormatUint(wantLag, 10)) {
		t.Errorf("status table does not end with lag %d:\n%s", wantLag, table)
	}
}

func TestCommandsThatNeedProjections(t *testing.T) {
	for _, args := range [][]string{{"worker"}, {"projections", "rebuild", "orders"}} {
		if _, err := cli(t, args...); err == nil || !strings.Contains(err.Error(), "no projections") || !strings.Contains(err.Error(), "docs/operations.md") {
			t.Errorf("%v in a binary without projections: %v", args, err)
		}
	}
	if _, err := cli(t, "relay"); err == nil || !strings.Contains(err.Error(), "--topic") {
		t.Errorf("relay without --topic: %v", err)
	}
}

func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"worker"}, []string{"--only", "SIGTERM", "--postgres-url"}},
		{[]string{"projections", "rebuild"}, []string{"--json", "half-built", "--tenant"}},
		{[]string{"projections", "retry"}, []string{"--position", "--partition", "--timeout", "--tenant"}},
		{[]string{"projections", "skip"}, []string{"--position", "refused", "--tenant"}},
		{[]string{"projections", "status"}, []string{"--json", "--version", "--tenant"}},
		{[]string{"console"}, []string{"--listen", "--token", "--tenant"}},
		{[]string{"horizon"}, []string{"--json", "--tenant", "open transaction"}},
	} {
		out := mustCLI(t, append(c.args, "--help")...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v --help lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}
