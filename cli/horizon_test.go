package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// TestHorizon: with a transaction left open, horizon counts the events it
// holds back and names its backend; once it ends, nothing is held back.
func TestHorizon(t *testing.T) {
	pool, schema := testenv.Schema(t)
	pg := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	pid, _ := testenv.HoldLog(t, pool)
	if _, err := store.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}

	out := mustCLI(t, append([]string{"horizon"}, pg...)...)
	for _, want := range []string{"2 committed events are held back", "idle in transaction", strconv.Itoa(pid), "pg_terminate_backend"} {
		if !strings.Contains(out, want) {
			t.Errorf("horizon lacks %q:\n%s", want, out)
		}
	}
	status := mustCLI(t, append([]string{"projections", "status", "--redis-url", testenv.RedisURL(), "--redis-prefix", schema}, pg...)...)
	// The oldest holder it names may be another test's transaction.
	if want := "HELD BACK: 2 committed events"; !strings.Contains(status, want) {
		t.Errorf("projections status lacks %q:\n%s", want, status)
	}
	var hb pgstore.HeldBack
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"horizon", "--json"}, pg...)...)), &hb); err != nil {
		t.Fatal(err)
	}
	if hb.Events != 2 || len(hb.Holders) == 0 {
		t.Errorf("horizon --json = %+v, want 2 events and the open transaction", hb)
	}
	if out := mustCLI(t, append([]string{"horizon", "--tenant", "acme"}, pg...)...); !strings.Contains(out, "nothing is held back") {
		t.Errorf("horizon --tenant acme, whose log has no events:\n%s", out)
	}
}

// When PostgreSQL hides the holder from the store's role (its state and
// start read NULL), horizon and projections status say so and measure the
// hold from the oldest held-back event instead of printing "0s".
func TestHorizonWithHiddenHolder(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	hb := pgstore.HeldBack{Events: 3, Since: now.Add(-14 * time.Minute), Holders: []pgstore.HorizonHolder{
		{PID: 4242, Database: "eventfold", User: "reporter", XIDAge: 3, Hidden: true},
	}}
	var out strings.Builder
	if err := printHeldBack(&out, hb, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"held back from readers of the log for 14m0s", "(hidden)", "hides", "pg_read_all_stats"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("horizon lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), " 0s ") {
		t.Errorf("horizon shows a hidden holder open for 0s:\n%s", out.String())
	}
	line := heldBackLine(hb, now, "eventfold")
	for _, want := range []string{"3 committed events", "pid 4242", "hidden", "held back for 14m0s"} {
		if !strings.Contains(line, want) {
			t.Errorf("projections status HELD BACK line lacks %q:\n%s", want, line)
		}
	}
}
