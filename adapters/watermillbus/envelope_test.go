package watermillbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// testLog returns n records at logPos(1..n).
func testLog(n int) []eventstore.Record {
	recs := make([]eventstore.Record, n)
	for i := range recs {
		recs[i] = eventstore.Record{ID: eventstore.NewEventID(), StreamID: "s", Type: "Added", Data: []byte(`{"N":1}`),
			ContentType: eventstore.ContentTypeJSON, Version: int64(i + 1), Position: logPos(i + 1),
			RecordedAt: time.Date(2026, 11, 25, 1, 2, 3, i, time.UTC)}
	}
	return recs
}

// envelope packs log events from..to (from 1) as the relay does.
func envelope(log []eventstore.Record, from, to int) *message.Message {
	var prev eventstore.Position
	if from > 1 {
		prev = log[from-2].Position
	}
	if from == to {
		return watermillbus.NewMessage(log[from-1], prev)
	}
	return watermillbus.NewBatchMessage(log[from-1:to], prev)
}

func TestBatchMessageRoundTrip(t *testing.T) {
	recs := []eventstore.Record{
		{ID: eventstore.NewEventID(), Tenant: "acme", StreamID: "order:{1} *x", Type: "OrderPlaced", Data: []byte(`{"total":3}`),
			ContentType: eventstore.ContentTypeJSON, Version: 7, Position: eventstore.Position{Commit: 900, Sequence: 12},
			RecordedAt: time.Date(2026, 11, 25, 1, 2, 3, 456789000, time.UTC),
			Metadata: eventstore.Metadata{CorrelationID: "corr", CausationID: "cause",
				Extra: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "user": "ada"}}},
		{ID: eventstore.NewEventID(), StreamID: "s", Type: "T", Data: []byte("\xff\x00"), Version: 1,
			Position: eventstore.Position{Commit: 900, Sequence: 13}},
		{ID: eventstore.NewEventID(), StreamID: "s", Type: "T", Data: []byte(`{}`), Version: 2,
			Position: eventstore.Position{Commit: 901, Sequence: 14}, RecordedAt: time.Unix(-5, 7).UTC()},
	}
	prev := eventstore.Position{Commit: 899, Sequence: 11}
	msg := watermillbus.NewBatchMessage(recs, prev)
	if want := recs[0].ID + "+3"; msg.UUID != want {
		t.Errorf("UUID %q, want %q", msg.UUID, want)
	}
	if again := watermillbus.NewBatchMessage(recs, prev); again.UUID != msg.UUID || !slices.Equal(again.Payload, msg.Payload) {
		t.Error("packing the same events twice gave another message: a broker could not deduplicate a relay's retry")
	}
	if shorter := watermillbus.NewBatchMessage(recs[:2], prev); shorter.UUID == msg.UUID {
		t.Error("envelopes of different events share a UUID: a broker would drop the longer one as a duplicate")
	}
	if msg.Metadata.Get(watermillbus.MetadataBatch) != "3" || msg.Metadata.Get(watermillbus.MetadataPosition) != recs[2].Position.String() {
		t.Errorf("metadata %v", msg.Metadata)
	}
	got, gotPrev, err := watermillbus.Records(msg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs, got); diff != "" || gotPrev != prev {
		t.Errorf("records after a round trip (-want +got):\n%s\nprev %v, want %v", diff, gotPrev, prev)
	}
	if _, _, err := watermillbus.Record(msg); err == nil {
		t.Error("Record decoded an envelope as one event")
	}
	single, singlePrev, err := watermillbus.Records(watermillbus.NewMessage(recs[0], prev))
	if err != nil || len(single) != 1 || single[0].ID != recs[0].ID || singlePrev != prev {
		t.Errorf("Records of a plain message = %v, %v, %v", single, singlePrev, err)
	}

	bad := map[string]func(m *message.Message){
		"truncated":        func(m *message.Message) { m.Payload = m.Payload[:len(m.Payload)-1] },
		"trailing bytes":   func(m *message.Message) { m.Payload = append(m.Payload, 0) },
		"unknown format":   func(m *message.Message) { m.Payload[0] = 99 },
		"count mismatch":   func(m *message.Message) { m.Metadata.Set(watermillbus.MetadataBatch, "2") },
		"count not number": func(m *message.Message) { m.Metadata.Set(watermillbus.MetadataBatch, "x") },
		"prev after first": func(m *message.Message) { m.Metadata.Set(watermillbus.MetadataPrevPosition, "900-12") },
		"no prev":          func(m *message.Message) { m.Metadata.Set(watermillbus.MetadataPrevPosition, "") },
	}
	for name, spoil := range bad {
		m := watermillbus.NewBatchMessage(recs, prev)
		spoil(m)
		if _, _, err := watermillbus.Records(m); err == nil {
			t.Errorf("%s: Records accepted the envelope", name)
		}
	}
	backwards := slices.Clone(recs)
	backwards[1], backwards[2] = backwards[2], backwards[1]
	if _, _, err := watermillbus.Records(watermillbus.NewBatchMessage(backwards, prev)); err == nil {
		t.Error("Records accepted an envelope whose events go back in the log")
	}
}

// nextAll reads until the feed returns nothing.
func nextAll(t *testing.T, feed projection.Feed, max int) []eventstore.Position {
	t.Helper()
	var got []eventstore.Position
	for {
		recs, err := feed.Next(t.Context(), max)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return got
		}
		if len(recs) > max {
			t.Fatalf("Next(%d) returned %d records", max, len(recs))
		}
		for _, r := range recs {
			got = append(got, r.Position)
		}
	}
}

func positions(from, to int) []eventstore.Position {
	var ps []eventstore.Position
	for i := from; i <= to; i++ {
		ps = append(ps, logPos(i))
	}
	return ps
}

func openFeed(t *testing.T, msgs ...*message.Message) projection.Feed {
	t.Helper()
	sub := chanSubscriber{msgs: make(chan *message.Message, len(msgs)+10)}
	for _, m := range msgs {
		sub.msgs <- m
	}
	feed, err := watermillbus.NewSource(sub, "events", nil).Open(t.Context(), eventstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { feed.Close() })
	return feed
}

// Plain messages and envelopes may follow each other (a relay packs only
// rounds of several events); the feed hands out records in order in
// batches of at most max, splitting envelopes, and acks an envelope once
// its last record is committed.
func TestSourceMixedMessages(t *testing.T) {
	log := testLog(8)
	msgs := []*message.Message{envelope(log, 1, 1), envelope(log, 2, 5), envelope(log, 6, 6), envelope(log, 7, 8)}
	feed := openFeed(t, msgs...)
	if got := nextAll(t, feed, 2); !slices.Equal(got, positions(1, 8)) {
		t.Fatalf("records at %v, want 1..8", got)
	}
	ctx := t.Context()
	if err := feed.Commit(ctx, logPos(4)); err != nil {
		t.Fatal(err)
	}
	if !acked(msgs[0]) || acked(msgs[1]) {
		t.Fatal("commit up to the middle of an envelope: want the message before acked, the envelope not")
	}
	if err := feed.Commit(ctx, logPos(7)); err != nil {
		t.Fatal(err)
	}
	if !acked(msgs[1]) || !acked(msgs[2]) || acked(msgs[3]) {
		t.Fatal("commit up to 7 must ack the envelope 2..5 and the message 6, not the envelope 7..8")
	}
	if err := feed.Close(); err != nil {
		t.Fatal(err)
	}
	if !nacked(msgs[3]) {
		t.Error("Close did not nack the uncommitted envelope")
	}
}

// After a crash the relay reads from its checkpoint and may pack other
// envelopes than before: the feed drops the records it has, takes the
// rest, and holds copies until what they carry is committed.
func TestSourceOverlappingEnvelopes(t *testing.T) {
	log := testLog(10)
	first := envelope(log, 1, 4)
	repacked := envelope(log, 3, 8) // the relay's checkpoint was at 2
	copyOfFirst := envelope(log, 1, 4)
	tail := envelope(log, 5, 10) // and again from 4, after a second crash
	feed := openFeed(t, first, repacked, copyOfFirst, tail)
	if got := nextAll(t, feed, 100); !slices.Equal(got, positions(1, 10)) {
		t.Fatalf("records at %v, want 1..10, each once", got)
	}
	ctx := t.Context()
	if acked(copyOfFirst) || acked(first) {
		t.Fatal("a copy of an uncommitted envelope was acked")
	}
	if err := feed.Commit(ctx, logPos(4)); err != nil {
		t.Fatal(err)
	}
	if !acked(first) || !acked(copyOfFirst) || acked(repacked) {
		t.Fatal("commit up to 4 must ack the envelope 1..4 and its copy, not the envelope 3..8")
	}
	if err := feed.Commit(ctx, logPos(8)); err != nil {
		t.Fatal(err)
	}
	if !acked(repacked) || acked(tail) {
		t.Fatal("commit up to 8 must ack the envelope 3..8, not 5..10")
	}
	// A copy of a committed envelope is acked at once.
	late := envelope(log, 2, 6)
	feed2 := openFeed(t, envelope(log, 1, 8), late)
	if got := nextAll(t, feed2, 100); !slices.Equal(got, positions(1, 8)) {
		t.Fatalf("records at %v, want 1..8", got)
	}
	if err := feed2.Commit(ctx, logPos(8)); err != nil {
		t.Fatal(err)
	}
	if !acked(late) {
		t.Error("a committed envelope's copy was not acked")
	}
}

// An envelope whose first new event does not follow the last one received
// is refused whole, whether the gap is before it or inside it.
func TestSourceRefusesGapsAroundEnvelopes(t *testing.T) {
	log := testLog(10)
	for name, second := range map[string]*message.Message{
		"between envelopes":       envelope(log, 6, 8),
		"between batch and plain": envelope(log, 6, 6),
		// 2 and 3 are duplicates; 5 follows 3 in the envelope, not 4.
		"inside an envelope": watermillbus.NewBatchMessage([]eventstore.Record{log[1], log[2], log[4]}, log[0].Position),
	} {
		t.Run(name, func(t *testing.T) {
			feed := openFeed(t, envelope(log, 1, 4), second)
			recs, err := feed.Next(t.Context(), 100)
			if err == nil {
				recs2, err2 := feed.Next(t.Context(), 100)
				recs, err = append(recs, recs2...), err2
			}
			if !errors.Is(err, watermillbus.ErrGap) {
				t.Fatalf("Next = %d records, %v; want ErrGap", len(recs), err)
			}
			for _, r := range recs {
				if logPos(4).Before(r.Position) {
					t.Errorf("handed out %s past the gap", r.Position)
				}
			}
			if !nacked(second) {
				t.Error("the message after the gap was not nacked")
			}
		})
	}
}

// recordingPublisher keeps what a relay publishes.
type recordingPublisher struct {
	mu   sync.Mutex
	msgs []*message.Message
}

func (p *recordingPublisher) Publish(_ string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
	return nil
}
func (p *recordingPublisher) Close() error { return nil }

func (p *recordingPublisher) published() []*message.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// A relay with EventsPerMessage packs the log into envelopes of at most
// that many events and at most MaxMessageBytes, chained like plain
// messages; an oversized event travels alone.
func TestRelayPacksEnvelopes(t *testing.T) {
	store := memstore.New(nil)
	ctx := t.Context()
	var events []eventstore.Event
	for i := range 23 {
		data := fmt.Appendf(nil, `{"N":%d}`, i)
		if i == 10 {
			data = fmt.Appendf(nil, `{"big":%q}`, strings.Repeat("x", 5000))
		}
		events = append(events, eventstore.Event{Type: "Added", Data: data})
	}
	res, err := store.Append(ctx, "s", eventstore.Any, events)
	if err != nil {
		t.Fatal(err)
	}
	pub := &recordingPublisher{}
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{Store: store, Publisher: pub, Topic: "t",
		Checkpoints: &memCheckpoints{pos: map[string]eventstore.Position{}}, EventsPerMessage: 4, MaxMessageBytes: 4000})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); relay.Run(runCtx) }() //nolint:errcheck
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for _, pos := relay.Active(); pos != res.Position; _, pos = relay.Active() {
		if time.Now().After(deadline) {
			t.Fatalf("relay at %s, want %s", pos, res.Position)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var last eventstore.Position
	var got, batches int
	for _, msg := range pub.published() {
		recs, prev, err := watermillbus.Records(msg)
		if err != nil {
			t.Fatal(err)
		}
		if prev != last {
			t.Fatalf("message %s follows %s, want %s", msg.UUID, prev, last)
		}
		if len(recs) > 4 {
			t.Errorf("envelope of %d events, want at most 4", len(recs))
		}
		if len(recs) > 1 {
			batches++
			if len(msg.Payload) > 4000 {
				t.Errorf("envelope of %d bytes, want at most 4000", len(msg.Payload))
			}
		}
		got += len(recs)
		last = recs[len(recs)-1].Position
	}
	if got != len(events) || batches < 4 {
		t.Errorf("relay published %d events in %d envelopes; want %d events, mostly packed", got, batches, len(events))
	}
}
