package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// TestHorizonShowsStandbyLag: with --postgres-replica-url, horizon reports
// how far the standby is behind (replay paused: more than nothing), and
// that it cannot be reached once it is stopped.
func TestHorizonShowsStandbyLag(t *testing.T) {
	pair := testenv.PGStandby(t)
	ctx := t.Context()
	pg := []string{"--postgres-url", pair.Primary.URL(), "--postgres-replica-url", pair.Standby.URL(), "--schema", "cli_standby"}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	if err := pair.WaitReplayed(ctx); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, append([]string{"horizon"}, pg...)...)
	if !strings.Contains(out, "standby: 0 bytes of WAL behind the primary") {
		t.Errorf("horizon on a standby that has replayed everything:\n%s", out)
	}

	standby, err := pgxpool.New(ctx, pair.Standby.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close()
	if _, err := standby.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	primary, err := pgxpool.New(ctx, pair.Primary.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	store, err := pgstore.New(primary, &pgstore.Options{Schema: "cli_standby"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Events  int64 `json:"events"`
		Standby *struct {
			Bytes int64  `json:"bytes"`
			Error string `json:"error"`
		} `json:"standby"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"horizon", "--json"}, pg...)...)), &report); err != nil {
		t.Fatal(err)
	}
	if report.Standby == nil || report.Standby.Bytes <= 0 || report.Standby.Error != "" {
		t.Errorf("horizon --json with replay paused after an append: standby %+v, want bytes above 0", report.Standby)
	}

	pair.Standby.Stop()
	out = mustCLI(t, append([]string{"horizon"}, pg...)...)
	if !strings.Contains(out, "standby: cannot measure its lag") {
		t.Errorf("horizon with the standby stopped:\n%s", out)
	}
}
