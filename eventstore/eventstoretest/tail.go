package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

// batch is one append made while tailers read: its event IDs and result.
type batch struct {
	stream string
	ids    []string
	res    eventstore.AppendResult
}

// testTailWhileWriting has tailers with small limits read the global log
// while writers append batches of several events, some with Any to one hot
// stream, and a reader reads the hot stream. Each tailer sees every event
// exactly once, in position order, each stream's versions 1..n, and each
// batch's events at adjacent versions: a store that shows a later commit
// while an earlier one is still unfinished fails here.
func testTailWhileWriting(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	const writers, anyWriters, appends = 4, 3, 15
	batches := make(chan batch, (writers+anyWriters)*appends)
	errs := make(chan error, writers+anyWriters+8)
	total := 0
	for i := range appends {
		total += (writers + anyWriters) * (2 + i%3)
	}
	var writing sync.WaitGroup
	for w := range writers + anyWriters {
		writing.Go(func() {
			if err := writeBatches(ctx, s, w, w >= writers, appends, batches); err != nil {
				errs <- err
			}
		})
	}
	writersDone := make(chan struct{})
	var reading sync.WaitGroup
	limits := []int{1, 2, 3}
	tailed := make([][]eventstore.Record, len(limits))
	for i, limit := range limits {
		reading.Go(func() {
			var err error
			tailed[i], err = tail(ctx, s, limit, total, writersDone, cfg.Visibility)
			if err != nil {
				errs <- fmt.Errorf("tailer with limit %d: %w", limit, err)
			}
		})
	}
	reading.Go(func() {
		if err := readHotStream(ctx, s, writersDone); err != nil {
			errs <- err
		}
	})
	writing.Wait()
	close(writersDone)
	reading.Wait()
	close(errs)
	close(batches)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	var all []batch
	for b := range batches {
		all = append(all, b)
	}
	for i, got := range tailed {
		t.Run(fmt.Sprintf("limit %d", limits[i]), func(t *testing.T) {
			checkLog(t, got, total)
			checkBatches(t, got, all)
		})
	}
}

// writeBatches appends n batches of 2 to 4 events with known IDs, to the
// writer's own stream with exact versions or, when hot, to the hot stream
// with Any.
func writeBatches(ctx context.Context, s eventstore.Store, w int, hot bool, n int, out chan<- batch) error {
	stream, version := fmt.Sprintf("tail-%d", w), int64(0)
	if hot {
		stream = "tail-hot"
	}
	for i := range n {
		var events []eventstore.Event
		var ids []string
		for j := range 2 + i%3 {
			e := jsonEvent("Tick", j)
			e.ID = eventstore.NewEventID()
			events = append(events, e)
			ids = append(ids, e.ID)
		}
		exp := eventstore.Exact(version)
		if hot {
			exp = eventstore.Any
		}
		res, err := s.Append(ctx, stream, exp, events)
		if err != nil {
			return fmt.Errorf("writer %d: Append(%q, %v) = %w", w, stream, exp, err)
		}
		version = res.StreamVersion
		out <- batch{stream: stream, ids: ids, res: res}
	}
	return nil
}

// tail reads the global log with the given limit until it has total
// events, or until the writers are done and visibility has passed.
func tail(ctx context.Context, s eventstore.Store, limit, total int, writersDone <-chan struct{}, visibility time.Duration) ([]eventstore.Record, error) {
	var got []eventstore.Record
	var after eventstore.Position
	var deadline time.Time
	for len(got) < total {
		page, err := s.ReadAll(ctx, after, limit)
		if err != nil {
			return got, fmt.Errorf("ReadAll(%v, %d) = %w", after, limit, err)
		}
		if err := checkPage(after, limit, page); err != nil {
			return got, err
		}
		if len(page) > 0 {
			got = append(got, page...)
			after = page[len(page)-1].Position
			continue
		}
		select {
		case <-writersDone:
			if deadline.IsZero() {
				deadline = time.Now().Add(visibility)
			}
			if time.Now().After(deadline) {
				return got, nil
			}
		default:
		}
		time.Sleep(time.Millisecond)
	}
	return got, nil
}

// readHotStream reads the hot stream until the writers are done: every
// read holds versions 1..n, in order.
func readHotStream(ctx context.Context, s eventstore.Store, writersDone <-chan struct{}) error {
	for {
		select {
		case <-writersDone:
			return nil
		default:
		}
		recs, err := s.ReadStream(ctx, "tail-hot", 0, eventstore.Forward, 0)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return fmt.Errorf("ReadStream(tail-hot) while writing = %w", err)
		}
		for i, r := range recs {
			if r.Version != int64(i+1) {
				return fmt.Errorf("ReadStream(tail-hot) while writing: record %d has version %d", i, r.Version)
			}
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// checkBatches checks that every batch's events are in got, in its
// stream, at adjacent versions ending at the version and position its
// append returned.
func checkBatches(t *testing.T, got []eventstore.Record, batches []batch) {
	t.Helper()
	byID := make(map[string]eventstore.Record, len(got))
	for _, r := range got {
		byID[r.ID] = r
	}
	for _, b := range batches {
		for i, id := range b.ids {
			r, ok := byID[id]
			wantVersion := b.res.StreamVersion - int64(len(b.ids)-1-i)
			switch {
			case !ok:
				t.Errorf("event %s of a batch appended to %q at version %d is missing from the log", id, b.stream, b.res.StreamVersion)
			case r.StreamID != b.stream || r.Version != wantVersion:
				t.Errorf("event %d of a batch appended to %q ending at version %d is at %q version %d; a batch's events are adjacent",
					i, b.stream, b.res.StreamVersion, r.StreamID, r.Version)
			case i == len(b.ids)-1 && r.Position != b.res.Position:
				t.Errorf("last event of a batch appended to %q is at %v, but its append returned %v", b.stream, r.Position, b.res.Position)
			}
		}
	}
}
