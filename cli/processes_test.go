package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// processes status lists every process manager's saved position with its
// lag behind the head of the log, from PostgreSQL alone.
func TestProcessesStatus(t *testing.T) {
	pool, schema := testenv.Schema(t)
	pg := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	if out := mustCLI(t, append([]string{"processes", "status"}, pg...)...); !strings.Contains(out, "no process manager") {
		t.Errorf("processes status with none = %q", out)
	}
	opts := &pgstore.Options{Schema: schema}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	first, err := store.Append(t.Context(), "order-1", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(t.Context(), "order-2", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}, {Type: "OrderPaid", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	cps := pgstore.NewCheckpoints(pool, opts)
	if err := cps.Save(t.Context(), "process/payments", first.Position); err != nil {
		t.Fatal(err)
	}
	if err := cps.Save(t.Context(), "relay", first.Position); err != nil { // not a process
		t.Fatal(err)
	}
	out := mustCLI(t, append([]string{"processes", "status"}, pg...)...)
	if !strings.Contains(out, "PROCESS") || !strings.Contains(out, "payments") || strings.Contains(out, "relay") {
		t.Errorf("processes status:\n%s", out)
	}
	var lines []processStatus
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"processes", "status", "--json"}, pg...)...)), &lines); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].Process != "payments" || lines[0].Position != first.Position.String() || lines[0].LagEvents == 0 {
		t.Errorf("processes status --json = %+v, want payments at %s, behind the head", lines, first.Position)
	}
}
