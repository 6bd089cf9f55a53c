package eventstoretest

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
)

// testOwnership checks that the store neither keeps the caller's slices
// and maps (changing an appended event afterwards changes nothing stored)
// nor hands out its own (changing a returned record changes nothing
// stored).
func testOwnership(t *testing.T, cfg Config) {
	s := cfg.New(t)
	data := []byte(`{"n":1}`)
	extra := map[string]string{"user": "u1"}
	events := []eventstore.Event{{Type: "A", Data: data, Metadata: eventstore.Metadata{CorrelationID: "c", Extra: extra}}}
	mustAppend(t, s, "owned", eventstore.NoStream, events...)
	wantData, wantExtra := []byte(`{"n":1}`), map[string]string{"user": "u1"}
	check := func(when string) {
		t.Helper()
		recs := readStream(t, s, "owned")
		all := readAllUntil(t, cfg, s, 1)
		if len(recs) != 1 || len(all) != 1 {
			t.Fatalf("%s: ReadStream has %d records, ReadAll %d; want 1", when, len(recs), len(all))
		}
		for name, r := range map[string]eventstore.Record{"ReadStream": recs[0], "ReadAll": all[0]} {
			if !bytes.Equal(r.Data, wantData) || r.Type != "A" {
				t.Errorf("%s: %s returns type %q, data %q; want A, %q", when, name, r.Type, r.Data, wantData)
			}
			if diff := cmp.Diff(wantExtra, r.Metadata.Extra); diff != "" {
				t.Errorf("%s: %s metadata extra (-want +got):\n%s", when, name, diff)
			}
		}
	}
	data[0], extra["user"], extra["added"] = 'X', "changed", "x"
	events[0].Type = "Changed"
	check("after the caller changed the appended event")
	for _, r := range append(readStream(t, s, "owned"), readAllUntil(t, cfg, s, 1)...) {
		if len(r.Data) > 0 {
			r.Data[0] = 'Y'
		}
		if r.Metadata.Extra != nil {
			r.Metadata.Extra["user"] = "returned"
			r.Metadata.Extra["added"] = "y"
		}
	}
	check("after the caller changed returned records")
}

// testUpperCaseIDs checks that an event ID given in upper case is the
// canonical lower-case ID: stored and returned in lower case, replayed by
// a retry in either case, and a duplicate of itself in any case elsewhere.
func testUpperCaseIDs(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	id := eventstore.NewEventID()
	upper := strings.ToUpper(id)
	mixed := upper[:18] + id[18:]
	first := mustAppend(t, s, "upper", eventstore.NoStream, eventstore.Event{ID: upper, Type: "A", Data: []byte(`{}`)})
	if recs := readStream(t, s, "upper"); len(recs) != 1 || recs[0].ID != id {
		t.Errorf("ReadStream after appending ID %s = %+v; want one record with ID %s", upper, recs, id)
	}
	if all := readAllUntil(t, cfg, s, 1); len(all) != 1 || all[0].ID != id {
		t.Errorf("ReadAll after appending ID %s = %+v; want one record with ID %s", upper, all, id)
	}
	want := first
	want.Replayed = true
	for _, retry := range []string{id, mixed, upper} {
		res, err := s.Append(ctx, "upper", eventstore.NoStream, []eventstore.Event{{ID: retry, Type: "A", Data: []byte(`{}`)}})
		if err != nil || res != want {
			t.Errorf("retry with ID %s = %+v, %v; want the replay %+v", retry, res, err, want)
		}
	}
	for _, reuse := range []string{id, mixed, upper} {
		_, err := s.Append(ctx, "upper-other", eventstore.Any, []eventstore.Event{{ID: reuse, Type: "A", Data: []byte(`{}`)}})
		if !errors.Is(err, eventstore.ErrDuplicateEvent) {
			t.Errorf("ID %s in another stream: Append = %v, want ErrDuplicateEvent", reuse, err)
		}
	}
	if _, err := s.ReadStream(ctx, "upper-other", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("after rejected appends ReadStream(upper-other) = %v, want ErrStreamNotFound", err)
	}
	checkLog(t, readAllUntil(t, cfg, s, 1), 1)
}

// testReadAllBetween reads the global log after positions that no event
// holds: between two events, before the first and beyond the last.
func testReadAllBetween(t *testing.T, cfg Config) {
	s := cfg.New(t)
	for i := range 9 {
		events := []eventstore.Event{jsonEvent("E", i)}
		if i%3 == 0 {
			events = append(events, jsonEvent("F", i))
		}
		mustAppend(t, s, "between", eventstore.Any, events...)
	}
	all := readAllUntil(t, cfg, s, 12)
	checkLog(t, all, 12)
	if len(all) != 12 {
		return
	}
	from := func(after eventstore.Position, want []eventstore.Record, what string) {
		t.Helper()
		got, err := s.ReadAll(ctxFor(t), after, 0)
		if err == nil {
			err = checkPage(after, 0, got)
		}
		if err != nil {
			t.Errorf("ReadAll(%v) %s = %v", after, what, err)
			return
		}
		if diff := cmp.Diff(want, got); len(want)+len(got) > 0 && diff != "" {
			t.Errorf("ReadAll(%v) %s (-want +got):\n%s", after, what, diff)
		}
	}
	between := 0
	for i := 0; i+1 < len(all); i++ {
		for _, p := range positionsBetween(all[i].Position, all[i+1].Position) {
			from(p, all[i+1:], "between two events")
			between++
		}
	}
	if between == 0 {
		t.Logf("no position lies between two of the store's events: ReadAll from between events not checked")
	}
	first, last := all[0].Position, all[len(all)-1].Position
	for _, p := range positionsBetween(eventstore.Position{}, first) {
		from(p, all, "before the first event")
	}
	for _, p := range []eventstore.Position{{Commit: last.Commit, Sequence: last.Sequence + 1}, {Commit: last.Commit + 1},
		{Commit: last.Commit + 1, Sequence: last.Sequence + 1}} {
		if last.Before(p) {
			from(p, nil, "beyond the last event")
		}
	}
}

// positionsBetween returns positions strictly between a and b, if any.
func positionsBetween(a, b eventstore.Position) []eventstore.Position {
	var out []eventstore.Position
	for _, p := range []eventstore.Position{
		{Commit: a.Commit, Sequence: a.Sequence + 1},
		{Commit: b.Commit, Sequence: b.Sequence - 1},
		{Commit: b.Commit},
	} {
		if a.Before(p) && p.Before(b) && p.Sequence != math.MaxUint64 {
			if len(out) == 0 || out[len(out)-1] != p {
				out = append(out, p)
			}
		}
	}
	return out
}
