package pgstore_test

import (
	"errors"
	"testing"

	"github.com/eventfold/eventfold/eventstore"
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
