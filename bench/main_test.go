package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/bench/projbench"
	"github.com/eventfold/eventfold/internal/testenv"
)

// TestMain lets the test binary serve as scenario 7's child process, as
// the bench binary does.
func TestMain(m *testing.M) {
	if projbench.IsChild() {
		os.Exit(projbench.RunChild())
	}
	os.Exit(m.Run())
}

// TestQuick runs every scenario as make bench-quick does, with tiny
// windows, and checks that each one completes and yields its rows. It
// asserts nothing about speed.
func TestQuick(t *testing.T) {
	testenv.Pool(t)  // fails, or skips, when PostgreSQL is unreachable
	testenv.Redis(t) // and Redis
	brokers(t)       // and NATS JetStream and RabbitMQ
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-window", "40ms", "-warmup", "0", "-json", jsonPath,
		"-postgres", testenv.PostgresURL(), "-redis", testenv.RedisURL()}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var r harness.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	if r.Mode != "quick" || r.Reps != 1 || r.Machine.CPUs < 1 || r.Machine.Postgres == "" {
		t.Errorf("report header = mode %q, reps %d, machine %+v", r.Mode, r.Reps, r.Machine)
	}
	want := []struct {
		id     int
		status harness.Status
		rows   int
	}{
		{1, harness.StatusOK, 4}, // 1 and 16 writers × raw INSERT and watermill-sql
		{2, harness.StatusOK, 4},
		{3, harness.StatusOK, 2}, // one Handler, and one Handler per writer
		{4, harness.StatusOK, 3}, // eventfold against watermill-sql, default and tuned poll; the load search against the tuned one
		{5, harness.StatusOK, 4}, // 2 handlers × 2 baselines
		{6, harness.StatusOK, 1},
		{7, harness.StatusOK, 2},
		{8, harness.StatusOK, 2},
		{9, harness.StatusOK, 1},  // catch-up on the standby against on the primary
		{10, harness.StatusOK, 1}, // filtered reads against the whole log
		{11, harness.StatusOK, 9}, // Redis shard and memory × 2 baselines, 2 brokers × 2 message sizes, NATS fan-out
		{12, harness.StatusOK, 3}, // soft delete, truncation and archive, each against a one-event append
	}
	if len(r.Scenarios) != len(want) {
		t.Fatalf("%d scenarios in the report, want %d", len(r.Scenarios), len(want))
	}
	table := stdout.String()
	for i, w := range want {
		s := r.Scenarios[i]
		if s.ID != w.id || s.Status != w.status || len(s.Rows) != w.rows {
			t.Errorf("scenario %d: id %d, status %q (%s), %d rows; want id %d, %q, %d rows",
				i, s.ID, s.Status, s.Reason, len(s.Rows), w.id, w.status, w.rows)
			continue
		}
		if s.Status == harness.StatusNotImplemented && !strings.Contains(table, s.Name+" ("+s.Title+"): not yet implemented") {
			t.Errorf("table does not list scenario %d %s as not yet implemented", s.ID, s.Name)
		}
		for _, row := range s.Rows {
			if strings.HasPrefix(row.Cell, "highest load sustained") {
				// A search may find no load sustained within its bound on
				// a busy machine: it must only have measured.
				if row.Eventfold == nil || row.BaselineFigure == nil ||
					row.Eventfold.Extra["steps"].Median <= 0 || row.BaselineFigure.Extra["steps"].Median <= 0 {
					t.Errorf("scenario %d %s, %s: the search measured nothing: %+v", s.ID, row.Cell, row.Baseline, row)
				}
				continue
			}
			if row.BaselineFigure == nil || row.BaselineFigure.Rate.Median <= 0 || row.BaselineFigure.P50.Median <= 0 {
				t.Errorf("scenario %d %s, %s: no baseline figure: %+v", s.ID, row.Cell, row.Baseline, row.BaselineFigure)
			}
			switch {
			case row.Eventfold == nil || row.Eventfold.Rate.Median <= 0 || row.Ratio == nil || row.Ratio.Median <= 0:
				t.Errorf("scenario %d %s, %s: no eventfold figure or ratio: %+v", s.ID, row.Cell, row.Baseline, row)
			}
			if !strings.Contains(table, "| "+row.Cell+" |") || !strings.Contains(table, "| "+row.Baseline+" |") {
				t.Errorf("table lacks the row of scenario %d, %s, %s", s.ID, row.Cell, row.Baseline)
			}
		}
	}
	if t.Failed() {
		t.Logf("table:\n%s", table)
	}
}

// brokers fails, or skips, the test when NATS or RabbitMQ is unreachable.
func brokers(t *testing.T) {
	t.Helper()
	natsURL := os.Getenv("EVENTFOLD_TEST_NATS_URL")
	if natsURL == "" {
		natsURL = nats.DefaultURL
	}
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		testenv.Unavailable(t, "NATS", err)
	}
	nc.Close()
	amqpURL := os.Getenv("EVENTFOLD_TEST_AMQP_URL")
	if amqpURL == "" {
		amqpURL = "amqp://guest:guest@127.0.0.1:5672/"
	}
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err)
	}
	conn.Close()
}

// TestUnreachable checks that a run against a server that is not there
// fails instead of reporting nothing.
func TestUnreachable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-json", "", "-run", "append-1$", "-postgres", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}
	err := run(context.Background(), args, &stdout, &stderr)
	if err == nil {
		t.Fatalf("run against an unreachable server succeeded; stdout:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "failed") {
		t.Errorf("table does not report the failed scenario:\n%s", stdout.String())
	}
}

func TestParse(t *testing.T) {
	c, err := parse([]string{"-quick", "-writers", "2, 4"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.reps != 1 || c.budget.Window <= 0 || len(c.writers) != 2 || c.writers[1] != 4 {
		t.Errorf("parse -quick = %+v", c)
	}
	c, err = parse(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.reps != 3 || c.budget.Window < c.budget.Warmup {
		t.Errorf("parse full = %+v", c)
	}
	for _, bad := range [][]string{{"-writers", "0"}, {"-run", "("}, {"extra"}} {
		if _, err := parse(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("parse %q succeeded", bad)
		}
	}
}

// TestVariants checks that the analysis variants of the append scenarios
// run and write the same events as eventfold.
func TestVariants(t *testing.T) {
	testenv.Pool(t)
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	args := []string{"-quick", "-variants", "-run", "append", "-writers", "2", "-window", "30ms", "-warmup", "0",
		"-json", jsonPath, "-postgres", testenv.PostgresURL()}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var r harness.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 2 {
		t.Fatalf("%d scenarios, want the 2 append scenarios", len(r.Scenarios))
	}
	for _, s := range r.Scenarios {
		if len(s.Rows) != 6 { // raw, watermill-sql and four variants
			t.Errorf("scenario %d: %d rows, want 6", s.ID, len(s.Rows))
		}
		for _, row := range s.Rows {
			if row.BaselineFigure.Rate.Median <= 0 {
				t.Errorf("scenario %d, %s: no figure", s.ID, row.Baseline)
			}
		}
	}
}
