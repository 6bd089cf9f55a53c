package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

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
