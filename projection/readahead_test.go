package projection

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// countingStore reports every ReadAll on reads and can make them fail.
type countingStore struct {
	eventstore.Store
	reads chan eventstore.Position // the after of each ReadAll
	fail  error
}

func (s *countingStore) ReadAll(ctx context.Context, after eventstore.Position, max int) ([]eventstore.Record, error) {
	s.reads <- after
	if s.fail != nil {
		return nil, s.fail
	}
	return s.Store.ReadAll(ctx, after, max)
}

func newCountingStore(t *testing.T, events int) *countingStore {
	t.Helper()
	es := memstore.New(nil)
	for i := range events {
		if _, err := es.Append(context.Background(), fmt.Sprintf("s-%d", i), eventstore.NoStream,
			[]eventstore.Event{{Type: "E", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	return &countingStore{Store: es, reads: make(chan eventstore.Position, 100)}
}

func nextRead(t *testing.T, s *countingStore) eventstore.Position {
	t.Helper()
	select {
	case after := <-s.reads:
		return after
	case <-time.After(10 * time.Second):
		t.Fatal("no read of the log")
		return eventstore.Position{}
	}
}

func noRead(t *testing.T, s *countingStore) {
	t.Helper()
	select {
	case after := <-s.reads:
		t.Fatalf("the log was read after %v before the Runner asked", after)
	case <-time.After(50 * time.Millisecond):
	}
}

// While batches come full, the next one is read before the Runner asks for
// it; after a short batch, nothing is read until the Runner asks.
func TestReadAheadReadsTheNextFullBatchEarly(t *testing.T) {
	const max = 4
	s := newCountingStore(t, 2*max+1)
	ctx := context.Background()
	inner, err := LogSource(s, nil).Open(ctx, eventstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	feed := readAhead(ctx, inner, max, nil)
	defer feed.Close()

	var got []eventstore.Record
	recs, err := feed.Next(ctx, max)
	if err != nil || len(recs) != max {
		t.Fatalf("first Next = %d records, %v; want %d", len(recs), err, max)
	}
	got = append(got, recs...)
	nextRead(t, s) // the first batch
	if after := nextRead(t, s); after != recs[max-1].Position {
		t.Fatalf("read ahead after %v, want after the first batch's last record %v", after, recs[max-1].Position)
	}
	// The second batch is full too, so the third (short) one is read as
	// soon as the second is handed over.
	recs, err = feed.Next(ctx, max)
	if err != nil || len(recs) != max {
		t.Fatalf("second Next = %d records, %v; want %d", len(recs), err, max)
	}
	got = append(got, recs...)
	nextRead(t, s)
	recs, err = feed.Next(ctx, max)
	if err != nil || len(recs) != 1 {
		t.Fatalf("third Next = %d records, %v; want 1", len(recs), err)
	}
	got = append(got, recs...)
	noRead(t, s)

	// Asking again reads again: the log is caught up.
	recs, err = feed.Next(ctx, max)
	if err != nil || len(recs) != 0 {
		t.Fatalf("fourth Next = %d records, %v; want none (caught up)", len(recs), err)
	}
	nextRead(t, s)
	for i := 1; i < len(got); i++ {
		if !got[i-1].Position.Before(got[i].Position) {
			t.Fatalf("records out of order: %v then %v", got[i-1].Position, got[i].Position)
		}
	}
	if len(got) != 2*max+1 {
		t.Fatalf("got %d records, want %d", len(got), 2*max+1)
	}
}

// An error of the log reaches the Runner's Next, and Close stops the reader
// even while it is blocked handing over a batch.
func TestReadAheadErrorAndClose(t *testing.T) {
	s := newCountingStore(t, 10)
	s.fail = errors.New("log down")
	ctx := context.Background()
	inner, _ := LogSource(s, nil).Open(ctx, eventstore.Position{})
	feed := readAhead(ctx, inner, 4, nil)
	if _, err := feed.Next(ctx, 4); !errors.Is(err, s.fail) {
		t.Fatalf("Next = %v, want the log's error", err)
	}
	if err := feed.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := newCountingStore(t, 20)
	inner, _ = LogSource(s2, nil).Open(ctx, eventstore.Position{})
	feed = readAhead(ctx, inner, 4, nil)
	nextRead(t, s2)
	nextRead(t, s2) // a second full batch waits in the buffer, a third read blocks handing over
	closed := make(chan error, 1)
	go func() { closed <- feed.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the reader")
	}
	ra := feed.(*readAheadFeed)
	select {
	case <-ra.done:
	default:
		t.Fatal("the reader is still running after Close")
	}
}

// A cancelled context ends a waiting Next.
func TestReadAheadNextCancelled(t *testing.T) {
	s := newCountingStore(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	inner, _ := LogSource(s, &LogOptions{MinPoll: time.Hour, MaxPoll: time.Hour}).Open(ctx, eventstore.Position{})
	feed := readAhead(ctx, inner, 4, nil)
	defer feed.Close()
	if recs, err := feed.Next(ctx, 4); err != nil || len(recs) != 0 {
		t.Fatalf("Next on an empty log = %d records, %v; want none", len(recs), err)
	}
	cancel()
	if _, err := feed.Next(ctx, 4); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel = %v, want context.Canceled", err)
	}
}

// The reader decodes, with each batch, the events of typed handlers in the
// Runner's partition, and only those.
func TestReadAheadDecodesTypedEvents(t *testing.T) {
	type e struct{ N int }
	es := memstore.New(nil)
	var streams []string
	for i := range 8 {
		stream := fmt.Sprintf("s-%d", i)
		streams = append(streams, stream)
		if _, err := es.Append(t.Context(), stream, eventstore.NoStream, []eventstore.Event{
			{Type: "Typed", Data: []byte(fmt.Sprintf(`{"N":%d}`, i))},
			{Type: "Plain", Data: []byte(`{}`)},
			{Type: "Unknown", Data: []byte(`{}`)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	reg := command.NewRegistry(nil)
	if err := command.Register[e](reg, "Typed", nil); err != nil {
		t.Fatal(err)
	}
	p := New("decode", "1", reg)
	Handle(p, func(context.Context, *Tx, eventstore.Record, e) error { return nil })
	p.On("Plain", func(context.Context, *Tx, eventstore.Record) error { return nil })
	r, err := NewRunner(Config{Projection: p, Source: LogSource(es, nil), Store: memstore.NewReadModels(nil), Partitions: 2, Partition: 1})
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := LogSource(es, nil).Open(t.Context(), eventstore.Position{})
	feed := readAhead(t.Context(), inner, 100, r.decodeAhead)
	defer feed.Close()
	recs, mine, events, err := feed.(decodedFeed).nextDecoded(t.Context(), 100)
	if err != nil || len(recs) != 24 || len(events) != len(recs) || len(mine) != len(recs) {
		t.Fatalf("nextDecoded = %d records, %d owned, %d events, %v; want 24 of each", len(recs), len(mine), len(events), err)
	}
	decoded := 0
	for i, rec := range recs {
		if mine[i] != (PartitionOf(rec.StreamID, 2) == 1) {
			t.Fatalf("record %d (stream %s): mine %v, want it when in partition 1", i, rec.StreamID, mine[i])
		}
		want := rec.Type == "Typed" && PartitionOf(rec.StreamID, 2) == 1
		if got := events[i] != nil; got != want {
			t.Fatalf("record %d (%s of %s): decoded %v, want %v", i, rec.Type, rec.StreamID, got, want)
		}
		if want {
			decoded++
			if v, ok := events[i].(*e); !ok || fmt.Sprintf("s-%d", v.N) != rec.StreamID {
				t.Fatalf("record %d decoded as %#v", i, events[i])
			}
		}
	}
	if decoded == 0 {
		t.Fatal("no event of partition 1 was decoded; the test proves nothing")
	}
}
