package cli

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// TestStandby runs the --postgres-replica-url tests on one primary and
// standby.
func TestStandby(t *testing.T) {
	pair := testenv.PGStandby(t)
	t.Run("DepsLog", func(t *testing.T) { testDepsLogReadsStandby(t, pair) })
	t.Run("Horizon", func(t *testing.T) { testHorizonShowsStandbyLag(t, pair) })
}

// testHorizonShowsStandbyLag: with --postgres-replica-url, horizon reports
// how far the standby is behind (replay paused: more than nothing), and
// that it cannot be reached once it is stopped.
func testHorizonShowsStandbyLag(t *testing.T, pair *testenv.PGPair) {
	ctx := t.Context()
	pg := []string{"--postgres-url", pair.Primary.URL(), "--postgres-replica-url", pair.Standby.URL(), "--schema", "cli_standby"}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	if err := pair.WaitReplayed(ctx); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, append([]string{"horizon"}, pg...)...)
	// Background WAL (a checkpoint, say) may be in flight: no exact count.
	if !strings.Contains(out, " bytes of WAL behind the primary") {
		t.Errorf("horizon on a running standby:\n%s", out)
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

// testDepsLogReadsStandby: with --postgres-replica-url, the Log that the
// worker gives projections reads the standby.
func testDepsLogReadsStandby(t *testing.T, pair *testenv.PGPair) {
	ctx := t.Context()
	pg := []string{"--postgres-url", pair.Primary.URL(), "--schema", "cli_deps"}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	cfg := &config{postgresURL: pair.Primary.URL(), postgresReplicaURL: pair.Standby.URL(), schema: "cli_deps", redisURL: testenv.RedisURL()}
	deps, closeDeps, err := cfg.deps(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeDeps()
	replica, ok := deps.Log.(*pgstore.Replica)
	if !ok {
		t.Fatalf("Deps.Log is a %T, want a *pgstore.Replica", deps.Log)
	}
	if _, err := deps.Events.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := pair.WaitReplayed(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := deps.Log.ReadAll(ctx, eventstore.Position{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !replica.ReadingStandby() {
		t.Fatalf("Deps.Log read %d events, from the standby: %v; want 1 from the standby", len(recs), replica.ReadingStandby())
	}

	cfg.postgresReplicaURL = ""
	deps2, closeDeps2, err := cfg.deps(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeDeps2()
	if deps2.Log != eventstore.Store(deps2.Events) {
		t.Fatalf("without a replica Deps.Log is %T, want Deps.Events", deps2.Log)
	}
}
