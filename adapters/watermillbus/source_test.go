package watermillbus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// chanSubscriber hands out the messages the test sends on msgs.
type chanSubscriber struct{ msgs chan *message.Message }

func (s chanSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return s.msgs, nil
}
func (s chanSubscriber) Close() error { return nil }

func acked(m *message.Message) bool {
	select {
	case <-m.Acked():
		return true
	default:
		return false
	}
}

func nacked(m *message.Message) bool {
	select {
	case <-m.Nacked():
		return true
	default:
		return false
	}
}

// A redelivered copy of a message that is handed out but not committed is
// acked only once that position is committed: acking it earlier would ack
// the message, and a broker that keeps its consumer across restarts would
// never send the uncommitted event again.
func TestSourceHoldsDuplicatesUntilCommitted(t *testing.T) {
	ctx := t.Context()
	sub := chanSubscriber{msgs: make(chan *message.Message, 10)}
	feed, err := watermillbus.NewSource(sub, "events", nil).Open(ctx, eventstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]eventstore.Record, 3)
	msg := func(i int) *message.Message { // a fresh copy, as a redelivery is
		p := eventstore.Position{}
		if i > 0 {
			p = recs[i-1].Position
		}
		return watermillbus.NewMessage(recs[i], p)
	}
	for i := range recs {
		recs[i] = eventstore.Record{ID: eventstore.NewEventID(), StreamID: "s", Type: "T", Data: []byte(`{}`),
			Version: int64(i + 1), Position: eventstore.Position{Commit: 10, Sequence: uint64(i + 1)}, RecordedAt: time.Now()}
	}
	first := []*message.Message{msg(0), msg(1), msg(2)}
	for _, m := range first {
		sub.msgs <- m
	}
	got, err := feed.Next(ctx, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("Next = %d records, %v; want 3", len(got), err)
	}
	if err := feed.Commit(ctx, recs[0].Position); err != nil {
		t.Fatal(err)
	}
	// Copies of a committed and of two uncommitted messages come back.
	dupCommitted, dup1, dup2 := msg(0), msg(1), msg(2)
	for _, m := range []*message.Message{dupCommitted, dup1, dup2} {
		sub.msgs <- m
	}
	if got, err := feed.Next(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("Next over duplicates = %d records, %v; want none", len(got), err)
	}
	if !acked(dupCommitted) {
		t.Error("the copy of a committed message was not acked")
	}
	if acked(dup1) || acked(dup2) || acked(first[1]) {
		t.Fatal("a copy of an uncommitted message was acked before its commit")
	}
	if err := feed.Commit(ctx, recs[1].Position); err != nil {
		t.Fatal(err)
	}
	if !acked(dup1) || !acked(first[1]) {
		t.Error("commit did not ack the message and its copy")
	}
	if acked(dup2) {
		t.Error("commit acked a copy of a message past the committed position")
	}
	if err := feed.Close(); err != nil {
		t.Fatal(err)
	}
	if !nacked(dup2) || !nacked(first[2]) {
		t.Error("Close did not nack the uncommitted message and its copy")
	}
}

// A runner fed by a Source whose topic carries every tenant's events
// records that it reads every tenant's log, so status tools measure it
// against that log's head; by default it records the default tenant's.
func TestSourceAllTenantsReachesTheCatalog(t *testing.T) {
	rm := memstore.NewReadModels(nil)
	for name, opts := range map[string]*watermillbus.SourceOptions{
		"all":     {AllTenants: true},
		"default": nil,
	} {
		src := watermillbus.NewSource(chanSubscriber{msgs: make(chan *message.Message)}, "events", opts)
		r, err := projection.NewRunner(projection.Config{Projection: projection.New(name, "1", nil), Source: src, Store: rm})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	want := map[string]bool{"all": true, "default": false}
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, err := projectionops.ListProjections(t.Context(), rm)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, e := range entries {
			got[e.Name] = e.AllTenants
		}
		if len(got) == len(want) {
			for name, all := range want {
				if got[name] != all {
					t.Errorf("catalog entry %q: AllTenants = %v, want %v", name, got[name], all)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("catalog holds %v, want entries for %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A feed opened after a position no event has accepts the first event
// after it, whose previous event lies before that position, but still
// refuses a message that skips an event after it.
func TestSourceOpensBetweenEvents(t *testing.T) {
	ctx := t.Context()
	rec := func(seq uint64) eventstore.Record {
		return eventstore.Record{ID: eventstore.NewEventID(), StreamID: "s", Type: "T", Data: []byte(`{}`),
			Version: int64(seq), Position: eventstore.Position{Commit: seq, Sequence: seq}, RecordedAt: time.Now()}
	}
	between := eventstore.Position{Commit: 2, Sequence: 3} // after 2-2, before 3-3
	for name, tc := range map[string]struct {
		prev    eventstore.Position
		wantGap bool
	}{
		"follows the event before": {prev: eventstore.Position{Commit: 2, Sequence: 2}},
		"skips an event after":     {prev: eventstore.Position{Commit: 2, Sequence: 4}, wantGap: true},
	} {
		t.Run(name, func(t *testing.T) {
			sub := chanSubscriber{msgs: make(chan *message.Message, 1)}
			feed, err := watermillbus.NewSource(sub, "events", nil).Open(ctx, between)
			if err != nil {
				t.Fatal(err)
			}
			defer feed.Close() //nolint:errcheck
			sub.msgs <- watermillbus.NewMessage(rec(3), tc.prev)
			got, err := feed.Next(ctx, 10)
			if gap := errors.Is(err, watermillbus.ErrGap); gap != tc.wantGap {
				t.Fatalf("Next = %d records, %v; want a gap: %v", len(got), err, tc.wantGap)
			}
			if !tc.wantGap && len(got) != 1 {
				t.Fatalf("Next = %d records, want 1", len(got))
			}
		})
	}
}
