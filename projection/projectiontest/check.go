package projectiontest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// Visibility bounds how long the checks wait for acknowledged events to
// appear in the global log.
const Visibility = 30 * time.Second

// visibility is Visibility, shortened by this package's own tests.
var visibility = Visibility

// Ack is an append the caller saw succeed: a command that was acknowledged.
type Ack struct {
	// StreamID is the stream appended to.
	StreamID string
	// Result is what Append (or AppendKeyed) returned.
	Result eventstore.AppendResult
	// EventIDs are the IDs of the events appended, in order. Leave it nil
	// when they are not known (a replayed keyed append whose events got
	// new IDs): then only the last event, at Result's version and
	// position, is checked.
	EventIDs []string
}

// AckOf returns the Ack of an append of events to streamID that returned
// res. The events must carry their IDs (set before the append).
func AckOf(streamID string, res eventstore.AppendResult, events []eventstore.Event) Ack {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return Ack{StreamID: streamID, Result: res, EventIDs: ids}
}

// CheckLog verifies the global log of store and every acknowledged append
// in acked, reporting each problem with t.Errorf:
//
//   - positions strictly increase along the log and no event ID appears
//     twice;
//   - the versions of every stream are 1, 2, 3 … in log order, and
//     ReadStream returns the same events as the log;
//   - each acknowledged append's events are in the log exactly once, in its
//     stream, in order, ending at the version and position the append
//     returned.
//
// It returns the log it read, for further checks.
func CheckLog(t testing.TB, store eventstore.Store, acked []Ack) []eventstore.Record {
	t.Helper()
	ctx := context.Background()
	var log []eventstore.Record
	deadline := time.Now().Add(visibility)
	for {
		var err error
		log, err = ReadLog(ctx, store)
		if err != nil {
			t.Fatalf("projectiontest: ReadAll: %v", err)
		}
		if missing := missingAcks(log, acked); missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	byID := make(map[string]eventstore.Record, len(log))
	streams := map[string][]eventstore.Record{}
	for i, r := range log {
		if i > 0 && !log[i-1].Position.Before(r.Position) {
			t.Errorf("log: event %s at %s comes after %s: positions must strictly increase", r.ID, r.Position, log[i-1].Position)
		}
		if prev, dup := byID[r.ID]; dup {
			t.Errorf("log: event ID %s appears twice, at %s (stream %q) and %s (stream %q)", r.ID, prev.Position, prev.StreamID, r.Position, r.StreamID)
		}
		byID[r.ID] = r
		s := streams[r.StreamID]
		if want := int64(len(s)) + 1; r.Version != want {
			t.Errorf("log: stream %q has version %d at %s, want %d: versions must be dense and in log order", r.StreamID, r.Version, r.Position, want)
		}
		streams[r.StreamID] = append(s, r)
	}
	for id, fromLog := range streams {
		got, err := store.ReadStream(ctx, id, 1, eventstore.Forward, 0)
		if err != nil {
			t.Errorf("ReadStream(%q): %v", id, err)
			continue
		}
		if diff := cmp.Diff(summaries(fromLog), summaries(got)); diff != "" {
			t.Errorf("stream %q: ReadStream differs from the global log (-log +ReadStream):\n%s", id, diff)
		}
	}

	for _, a := range acked {
		s := streams[a.StreamID]
		last := a.Result.StreamVersion
		if last < 1 || last > int64(len(s)) {
			t.Errorf("acknowledged append to %q (version %d, position %s) is not in the log: the stream has %d events", a.StreamID, last, a.Result.Position, len(s))
			continue
		}
		if got := s[last-1].Position; got != a.Result.Position {
			t.Errorf("acknowledged append to %q: version %d is at %s, the append reported %s", a.StreamID, last, got, a.Result.Position)
		}
		first := last - int64(len(a.EventIDs)) + 1
		for i, id := range a.EventIDs {
			v := first + int64(i)
			r, ok := byID[id]
			switch {
			case !ok:
				t.Errorf("acknowledged event %s (stream %q, version %d) is not in the log", id, a.StreamID, v)
			case r.StreamID != a.StreamID || r.Version != v:
				t.Errorf("acknowledged event %s is stream %q version %d, want stream %q version %d", id, r.StreamID, r.Version, a.StreamID, v)
			}
		}
	}
	return log
}

// missingAcks counts the acknowledged appends whose last event the log
// does not show yet.
func missingAcks(log []eventstore.Record, acked []Ack) int {
	if len(acked) == 0 {
		return 0
	}
	seen := make(map[eventstore.Position]bool, len(log))
	for _, r := range log {
		seen[r.Position] = true
	}
	n := 0
	for _, a := range acked {
		if !seen[a.Result.Position] {
			n++
		}
	}
	return n
}

// summary is what the checks compare of a record: everything but the
// recorded time, which stores may round differently on different reads.
type summary struct {
	ID, StreamID, Type, ContentType string
	Data                            string
	Metadata                        eventstore.Metadata
	Version                         int64
	Position                        eventstore.Position
}

func summaries(recs []eventstore.Record) []summary {
	out := make([]summary, len(recs))
	for i, r := range recs {
		out[i] = summary{ID: r.ID, StreamID: r.StreamID, Type: r.Type, ContentType: r.ContentType,
			Data: string(r.Data), Metadata: r.Metadata, Version: r.Version, Position: r.Position}
	}
	return out
}

// ReadLog reads the whole visible global log of store.
func ReadLog(ctx context.Context, store eventstore.Store) ([]eventstore.Record, error) {
	var log []eventstore.Record
	var after eventstore.Position
	for {
		recs, err := store.ReadAll(ctx, after, 0)
		if err != nil {
			return log, err
		}
		if len(recs) == 0 {
			return log, nil
		}
		log = append(log, recs...)
		after = recs[len(recs)-1].Position
	}
}

// CheckReadModel verifies the read model of the active version of
// projectionName (for tenant, "" for none) against the log of store. It
// folds, in log order, every record up to the checkpoint of the partition
// that applies its stream (projection.PartitionOf), calling fold with the
// documents so far, keyed by document ID; fold adds, changes and deletes
// entries of the map, and ignores records that do not concern it. Then it
// reports with t.Errorf every document that differs from what r holds,
// including documents the fold deleted or never made but r still lists in
// an index of model, every index whose entries differ from what model
// derives from the folded documents, and every checkpoint ahead of the
// head of the log.
func CheckReadModel[T any](t testing.TB, store eventstore.Store, r readmodel.Reader, projectionName, tenant string, model readmodel.Model[T], fold func(docs map[string]T, rec eventstore.Record) error) {
	t.Helper()
	ctx := context.Background()
	ns, err := projection.Active(ctx, r, projectionName, tenant)
	if err != nil {
		t.Fatalf("projectiontest: %v", err)
	}
	// The checkpoints and the documents must be read from one state: read
	// the checkpoints again afterwards and start over if they moved.
	var problems []string
	for attempt := 0; ; attempt++ {
		cps, err := projectionops.Checkpoints(ctx, r, projectionName, tenant)
		if err != nil {
			t.Fatalf("projectiontest: %v", err)
		}
		problems, err = compare(ctx, store, r, ns, cps, model, fold)
		if err != nil {
			t.Fatalf("projectiontest: %v", err)
		}
		again, err := projectionops.Checkpoints(ctx, r, projectionName, tenant)
		if err != nil {
			t.Fatalf("projectiontest: %v", err)
		}
		if slices.Equal(cps, again) {
			break
		}
		if attempt == 50 {
			t.Fatalf("projectiontest: the checkpoints of %s kept moving; check the read model once the projection is idle", ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// compare does one pass of CheckReadModel and returns the problems found.
func compare[T any](ctx context.Context, store eventstore.Store, r readmodel.Reader, ns readmodel.Namespace, cps []eventstore.Position, model readmodel.Model[T], fold func(map[string]T, eventstore.Record) error) ([]string, error) {
	var problems []string
	log, err := headAtLeast(ctx, store, cps)
	if err != nil {
		return nil, err
	}
	var head eventstore.Position
	if len(log) > 0 {
		head = log[len(log)-1].Position
	}
	for i, cp := range cps {
		if head.Before(cp) {
			problems = append(problems, fmt.Sprintf("%s: checkpoint of partition %d is %s, ahead of the head of the log %s", ns, i, cp, head))
		}
	}

	want := map[string]T{}
	touched := map[string]bool{}
	for _, rec := range log {
		if cps[projection.PartitionOf(rec.StreamID, len(cps))].Before(rec.Position) {
			continue
		}
		before := keys(want)
		if err := fold(want, rec); err != nil {
			return nil, fmt.Errorf("fold of event %s (stream %q, version %d): %w", rec.ID, rec.StreamID, rec.Version, err)
		}
		for id := range want {
			touched[id] = true
		}
		for _, id := range before {
			touched[id] = true
		}
	}

	ids := keys(touched)
	slices.Sort(ids)
	got := map[string]T{}
	view := model.View(r, ns)
	for chunk := range slices.Chunk(ids, 500) {
		items, err := view.GetMany(ctx, chunk)
		if err != nil {
			return nil, fmt.Errorf("GetMany in %s: %w", ns, err)
		}
		for _, it := range items {
			got[it.ID] = it.Doc
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		problems = append(problems, fmt.Sprintf("%s differs from the fold of the log up to checkpoints %s (-fold +read model):\n%s", ns, describe(cps), diff))
	}

	for _, ix := range model.Indexes {
		var wantEntries []string
		for id, doc := range want {
			if ix.Values == nil {
				continue
			}
			for _, v := range ix.Values(doc) {
				if !v.IsZero() {
					wantEntries = append(wantEntries, readmodel.EntryKey(v, id))
				}
			}
		}
		slices.Sort(wantEntries)
		wantIDs := make([]string, len(wantEntries))
		for i, e := range wantEntries {
			wantIDs[i], _ = readmodel.EntryID(e)
		}
		var gotIDs []string
		q := readmodel.Query{Index: ix.Name, Limit: readmodel.MaxLimit}
		for {
			page, err := r.Query(ctx, ns, q)
			if err != nil {
				return nil, fmt.Errorf("query index %q of %s: %w", ix.Name, ns, err)
			}
			for _, d := range page.Documents {
				gotIDs = append(gotIDs, d.ID)
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
		if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
			problems = append(problems, fmt.Sprintf("%s: index %q lists other documents, or in another order, than the fold implies (-fold +read model):\n%s", ns, ix.Name, diff))
		}
	}
	return problems, nil
}

// headAtLeast reads the log, polling for up to Visibility while it ends
// before a checkpoint: a store may show events to ReadAll with a delay.
func headAtLeast(ctx context.Context, store eventstore.Store, cps []eventstore.Position) ([]eventstore.Record, error) {
	deadline := time.Now().Add(visibility)
	for {
		log, err := ReadLog(ctx, store)
		if err != nil {
			return nil, fmt.Errorf("ReadAll: %w", err)
		}
		var head eventstore.Position
		if len(log) > 0 {
			head = log[len(log)-1].Position
		}
		behind := false
		for _, cp := range cps {
			behind = behind || head.Before(cp)
		}
		if !behind || time.Now().After(deadline) {
			return log, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func keys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// describe formats positions for messages.
func describe(ps []eventstore.Position) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}
