package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

func TestEventsByCorrelation(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, nil)
	ev := func(typ, corr string) eventstore.Event {
		return eventstore.Event{Type: typ, Data: []byte(`{}`), Metadata: eventstore.Metadata{CorrelationID: corr, CausationID: "cmd-" + typ}}
	}
	appendTo := func(stream string, events ...eventstore.Event) {
		t.Helper()
		if _, err := s.Append(ctx, stream, eventstore.Any, events); err != nil {
			t.Fatal(err)
		}
	}
	appendTo("acc-b", ev("Opened", "flow-1"), ev("Noise", "flow-2"))
	appendTo("acc-a", ev("Withdrawn", "flow-1"))
	appendTo("acc-c", eventstore.Event{Type: "NoMetadata", Data: []byte(`{}`)})
	appendTo("acc-b", ev("Deposited", "flow-1"))

	got, err := s.EventsByCorrelation(ctx, "flow-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, r := range got {
		types = append(types, r.Type)
		if r.Metadata.CorrelationID != "flow-1" || r.Metadata.CausationID != "cmd-"+r.Type {
			t.Errorf("event %s: metadata %+v", r.Type, r.Metadata)
		}
		if i > 0 && !got[i-1].Position.Before(r.Position) {
			t.Errorf("events not in log order: %s then %s", got[i-1].Position, r.Position)
		}
	}
	if want := []string{"Opened", "Withdrawn", "Deposited"}; len(types) != 3 || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Errorf("EventsByCorrelation(flow-1) types = %v, want %v", types, want)
	}
	if got, err := s.EventsByCorrelation(ctx, "flow-1", 2); err != nil || len(got) != 2 {
		t.Errorf("limit 2: %d events, %v", len(got), err)
	}
	if got, err := s.EventsByCorrelation(ctx, "", 10); err != nil || len(got) != 0 {
		t.Errorf("empty ID: %v, %v; want nothing", got, err)
	}
	if got, err := s.EventsByCorrelation(ctx, "nope' OR 1=1 --", 10); err != nil || len(got) != 0 {
		t.Errorf("unknown ID: %v, %v; want nothing", got, err)
	}
	if _, err := s.EventsByCorrelation(ctx, "bad\x00id", 10); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("NUL in the ID: err = %v, want ErrInvalidInput", err)
	}
	if _, err := s.EventsByCorrelation(ctx, "flow-1", 0); err == nil {
		t.Error("limit 0 succeeded")
	}
}

func TestListStreamsWithPrefix(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, nil)
	for _, id := range []string{"acc-1", "acc-2", "acc-3", "b%_acc", "transfer-1", "acc_x"} {
		if _, err := s.Append(ctx, id, eventstore.NoStream, []eventstore.Event{{Type: "T", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(prefix, after string, limit int) []string {
		t.Helper()
		infos, err := s.ListStreamsWithPrefix(ctx, prefix, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range infos {
			out = append(out, i.ID)
		}
		return out
	}
	if got := ids("acc-", "", 10); len(got) != 3 || got[0] != "acc-1" || got[2] != "acc-3" {
		t.Errorf("prefix acc-: %v", got)
	}
	if got := ids("acc-", "acc-1", 1); len(got) != 1 || got[0] != "acc-2" {
		t.Errorf("prefix acc- after acc-1, limit 1: %v", got)
	}
	if got := ids("b%", "", 10); len(got) != 1 || got[0] != "b%_acc" {
		t.Errorf("prefix b%% (no LIKE wildcards): %v", got)
	}
	if got := ids("", "", 10); len(got) != 6 {
		t.Errorf("empty prefix: %v", got)
	}
}

// TestCreateCorrelationIndex: Migrate leaves the correlation index out; the
// opt-in call builds a valid index that EventsByCorrelation's query uses,
// is idempotent, repairs an invalid one and refuses a transaction.
func TestCreateCorrelationIndex(t *testing.T) {
	ctx := t.Context()
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		t.Helper()
		var valid bool
		err := pool.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'events_correlation_id'`, schema).Scan(&valid)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return "missing"
		case err != nil:
			t.Fatal(err)
		case valid:
			return "valid"
		}
		return "invalid"
	}
	if got := state(); got != "missing" {
		t.Fatalf("after Migrate the correlation index is %s, want missing (opt-in)", got)
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ev := eventstore.Event{Type: "Noted", Data: []byte(`{}`), Metadata: eventstore.Metadata{CorrelationID: fmt.Sprintf("flow-%d", i%2)}}
		if _, err := s.Append(ctx, "notes", eventstore.Any, []eventstore.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}

	// What an interrupted CREATE INDEX CONCURRENTLY leaves behind: a
	// unique build over duplicate IDs fails and leaves its index invalid.
	if _, err := pool.Exec(ctx, "CREATE UNIQUE INDEX CONCURRENTLY events_correlation_id ON "+
		pgx.Identifier{schema, "events"}.Sanitize()+" ((metadata->>'correlation_id'))"); err == nil {
		t.Fatal("the failing index build succeeded")
	}
	if got := state(); got != "invalid" {
		t.Fatalf("after a failed concurrent build the index is %s, want invalid", got)
	}
	for range 2 {
		if err := pgstore.CreateCorrelationIndex(ctx, pool, opts); err != nil {
			t.Fatalf("CreateCorrelationIndex: %v", err)
		}
		if got := state(); got != "valid" {
			t.Fatalf("after CreateCorrelationIndex the index is %s", got)
		}
	}

	// The lookup's own query uses it.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	rows, err := tx.Query(ctx, "EXPLAIN SELECT * FROM "+pgx.Identifier{schema, "events"}.Sanitize()+
		" WHERE metadata->>'correlation_id' = 'flow-1' AND tenant_id = '' ORDER BY transaction_id, global_position LIMIT 10")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if !strings.Contains(plan.String(), "events_correlation_id") {
		t.Errorf("EventsByCorrelation's query does not use the index:\n%s", plan.String())
	}
	if err := pgstore.CreateCorrelationIndex(ctx, tx, opts); err == nil {
		t.Error("CreateCorrelationIndex inside a transaction succeeded")
	}
	if got, err := s.EventsByCorrelation(ctx, "flow-0", 10); err != nil || len(got) != 2 {
		t.Errorf("EventsByCorrelation(flow-0) with the index: %d events, %v; want 2", len(got), err)
	}
}

// TestCreateCorrelationIndexConcurrently: processes starting together each
// call CreateCorrelationIndex; every call succeeds and one valid index
// results (none drops another's build in progress).
func TestCreateCorrelationIndexConcurrently(t *testing.T) {
	ctx := t.Context()
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		ev := eventstore.Event{Type: "Noted", Data: []byte(`{}`), Metadata: eventstore.Metadata{CorrelationID: fmt.Sprintf("flow-%d", i%7)}}
		if _, err := s.Append(ctx, fmt.Sprintf("notes-%d", i%13), eventstore.Any, []eventstore.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		if round > 0 {
			if _, err := pool.Exec(ctx, "DROP INDEX "+pgx.Identifier{schema, "events_correlation_id"}.Sanitize()); err != nil {
				t.Fatal(err)
			}
		}
		const callers = 4
		errs := make(chan error, callers)
		for range callers {
			go func() { errs <- pgstore.CreateCorrelationIndex(ctx, pool, opts) }()
		}
		for range callers {
			if err := <-errs; err != nil {
				t.Errorf("round %d: concurrent CreateCorrelationIndex = %v", round, err)
			}
		}
		var valid bool
		if err := pool.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'events_correlation_id'`, schema).Scan(&valid); err != nil || !valid {
			t.Errorf("round %d: the correlation index after concurrent calls: valid %v, %v", round, valid, err)
		}
	}
}
