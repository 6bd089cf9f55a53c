package eventstoretest

import (
	"fmt"
	"testing"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

// heldTests run when Config.HoldAppend is set: the scenario in which an
// append commits after appends that started later (the gap problem).
func heldTests(cfg Config) []suiteTest {
	tests := []suiteTest{{"ReadAll/HeldAppend", testReadAllHeldAppend}}
	if cfg.Features.Filtered {
		tests = append(tests, suiteTest{"ReadAllFiltered/HeldAppend", testFilterHeldAppend})
	}
	return tests
}

// logUncheckedHeld says, when Config.HoldAppend is nil, which scenarios the
// suite did not run.
func logUncheckedHeld(t *testing.T, cfg Config) {
	if cfg.HoldAppend == nil {
		t.Log("Config.HoldAppend not set: the held-append scenarios (ReadAll/HeldAppend, ReadAllFiltered/HeldAppend) are not checked")
	}
}

// testReadAllHeldAppend holds an append open while later appends commit:
// a reader that resumes after the last position it saw never passes the
// held event, and reads it, once committed, before the later ones.
func testReadAllHeldAppend(t *testing.T, cfg Config) {
	s := cfg.New(t)
	before := mustAppend(t, s, "before", eventstore.NoStream, jsonEvent("A", 0))
	held, commit := cfg.HoldAppend(t, s, "slow", []eventstore.Event{jsonEvent("Held", 1), jsonEvent("Held", 2)})
	committed := false
	defer func() {
		if !committed {
			commit()
		}
	}()
	fast := []eventstore.AppendResult{
		mustAppend(t, s, "fast-1", eventstore.NoStream, jsonEvent("B", 3)),
		mustAppend(t, s, "fast-2", eventstore.NoStream, jsonEvent("C", 4), jsonEvent("C", 5)),
	}
	if !before.Position.Before(held.Position) || !held.Position.Before(fast[0].Position) {
		t.Fatalf("positions before %v, held %v, fast %v are not in append order", before.Position, held.Position, fast[0].Position)
	}

	// While the slow append is open a reader reaches the event before it
	// and nothing at or after the held one.
	var got []eventstore.Record
	checkpoint := eventstore.Position{}
	for i := 0; i < 20; i++ {
		limit := []int{1, 3, 0}[i%3] // a store may go wrong only past a page of one
		recs, err := s.ReadAll(ctxFor(t), checkpoint, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !r.Position.Before(held.Position) {
				t.Fatalf("while the append at %v was open, ReadAll after %v returned %s at %v: a reader resuming after it would skip the held events",
					held.Position, checkpoint, r.StreamID, r.Position)
			}
			got = append(got, r)
			checkpoint = r.Position
		}
		if len(recs) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	commit()
	committed = true
	deadline := time.Now().Add(cfg.Visibility)
	for len(got) < 6 && time.Now().Before(deadline) {
		recs, err := s.ReadAll(ctxFor(t), checkpoint, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, r)
			checkpoint = r.Position
		}
		if len(recs) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	var streams []string
	for _, r := range got {
		streams = append(streams, fmt.Sprintf("%s@%d", r.StreamID, r.Version))
	}
	want := []string{"before@1", "slow@1", "slow@2", "fast-1@1", "fast-2@1", "fast-2@2"}
	if fmt.Sprint(streams) != fmt.Sprint(want) {
		t.Errorf("a reader resuming after the last position it saw read %v, want %v: every event once, the held ones in their place", streams, want)
	}
}
