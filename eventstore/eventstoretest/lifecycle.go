package eventstoretest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
)

// lifecycleTests check eventstore.StreamLifecycle. They run when
// Features.Lifecycle is declared.
var lifecycleTests = []suiteTest{
	{"Lifecycle/SoftDelete", testSoftDelete},
	{"Lifecycle/SoftDeleteThenExact", testSoftDeleteThenExact},
	{"Lifecycle/HardDelete", testHardDelete},
	{"Lifecycle/HardDeleteRacesAppends", testHardDeleteRace},
	{"Lifecycle/SoftDeleteRacesAppends", testSoftDeleteRace},
	{"Lifecycle/Truncate", testTruncate},
	{"Lifecycle/InvalidInput", testLifecycleInvalid},
	{"Lifecycle/Retention", testRetention},
}

// lifecycleTenantTests run when Features.Lifecycle and Features.Tenants
// are both declared.
var lifecycleTenantTests = []suiteTest{
	{"Lifecycle/Tenants", testLifecycleTenants},
}

func lifecycleOf(t *testing.T, s eventstore.Store) eventstore.StreamLifecycle {
	t.Helper()
	l, err := eventstore.Lifecycle(s)
	if err != nil {
		t.Fatalf("Features.Lifecycle is declared but %v", err)
	}
	return l
}

// lifecycleEvents returns the lifecycle events in s's log, in order.
func lifecycleEvents(t *testing.T, cfg Config, s eventstore.Store, want int) ([]eventstore.LifecycleEvent, []eventstore.Record) {
	t.Helper()
	var out []eventstore.LifecycleEvent
	var recs []eventstore.Record
	for _, r := range readAllUntil(t, cfg, s, want) {
		if e, ok := eventstore.LifecycleEventOf(r); ok {
			out = append(out, e)
			recs = append(recs, r)
		}
	}
	return out, recs
}

func versionsOf(recs []eventstore.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Version
	}
	return out
}

func testSoftDelete(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "order-1", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("B", 2), jsonEvent("C", 3))
	if _, err := l.DeleteStream(ctx, "order-1", eventstore.Exact(2), eventstore.SoftDelete); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("DeleteStream at the wrong version = %v, want ErrConcurrency", err)
	}
	readStream(t, s, "order-1") // still there
	pos, err := l.DeleteStream(ctx, "order-1", eventstore.Exact(3), eventstore.SoftDelete)
	if err != nil {
		t.Fatalf("DeleteStream(soft) = %v", err)
	}
	if _, err := s.ReadStream(ctx, "order-1", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("ReadStream after a soft delete = %v, want ErrStreamNotFound", err)
	}
	if _, err := l.DeleteStream(ctx, "order-1", eventstore.Any, eventstore.SoftDelete); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("second soft delete = %v, want ErrStreamNotFound", err)
	}
	if _, err := l.DeleteStream(ctx, "never", eventstore.Any, eventstore.SoftDelete); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("soft delete of a stream that never existed = %v, want ErrStreamNotFound", err)
	}
	if _, err := s.Append(ctx, "order-1", eventstore.StreamExists, []eventstore.Event{jsonEvent("D", 4)}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("Append(StreamExists) to a soft-deleted stream = %v, want ErrConcurrency", err)
	}
	res := mustAppend(t, s, "order-1", eventstore.NoStream, jsonEvent("D", 4))
	if res.StreamVersion != 5 {
		t.Errorf("recreating append: version %d, want 5 (versions continue after the marker, 4)", res.StreamVersion)
	}
	if got := versionsOf(readStream(t, s, "order-1")); !cmp.Equal(got, []int64{5}) {
		t.Errorf("recreated stream reads versions %v, want [5]", got)
	}
	if _, err := s.Append(ctx, "order-1", eventstore.NoStream, []eventstore.Event{jsonEvent("E", 5)}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("Append(NoStream) to the recreated stream = %v, want ErrConcurrency", err)
	}

	evs, recs := lifecycleEvents(t, cfg, s, 5)
	want := []eventstore.LifecycleEvent{{StreamID: "order-1", Type: eventstore.StreamDeletedType, Version: 3, Before: 5}}
	if !cmp.Equal(evs, want) {
		t.Fatalf("lifecycle events in the log = %+v, want %+v", evs, want)
	}
	if recs[0].Position != pos || recs[0].StreamID != "order-1" || recs[0].Version != 4 {
		t.Errorf("deletion marker at %v in stream %q version %d; DeleteStream returned %v, want stream %q version 4",
			recs[0].Position, recs[0].StreamID, recs[0].Version, pos, "order-1")
	}
	if !recs[0].Position.Before(res.Position) {
		t.Errorf("delete event at %v is not before the recreating append at %v", recs[0].Position, res.Position)
	}
}

// A soft-deleted stream also takes an append at its marker's version, and
// Any.
func testSoftDeleteThenExact(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "s", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("B", 2))
	if _, err := l.DeleteStream(ctx, "s", eventstore.Any, eventstore.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "s", eventstore.Exact(2), []eventstore.Event{jsonEvent("C", 3)}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("Append(Exact(2)) after the marker took version 3 = %v, want ErrConcurrency", err)
	}
	if res := mustAppend(t, s, "s", eventstore.Exact(3), jsonEvent("C", 3)); res.StreamVersion != 4 {
		t.Errorf("Append(Exact(3)) after the soft delete: version %d, want 4", res.StreamVersion)
	}
	if _, err := l.DeleteStream(ctx, "s", eventstore.StreamExists, eventstore.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if res := mustAppend(t, s, "s", eventstore.Any, jsonEvent("D", 4)); res.StreamVersion != 6 {
		t.Errorf("Append(Any) after the second soft delete: version %d, want 6", res.StreamVersion)
	}
	if got := versionsOf(readStream(t, s, "s")); !cmp.Equal(got, []int64{6}) {
		t.Errorf("stream reads versions %v, want [6]", got)
	}
}

func testHardDelete(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "keep", eventstore.NoStream, jsonEvent("K", 1))
	mustAppend(t, s, "gone", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("B", 2))
	pos, err := l.DeleteStream(ctx, "gone", eventstore.Exact(2), eventstore.HardDelete)
	if err != nil {
		t.Fatalf("DeleteStream(hard) = %v", err)
	}
	if _, err := s.ReadStream(ctx, "gone", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("ReadStream of a tombstoned stream = %v, want ErrStreamDeleted", err)
	}
	if _, err := s.ReadStream(ctx, "gone", eventstore.StreamEnd, eventstore.Backward, 1); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("ReadStream backward of a tombstoned stream = %v, want ErrStreamDeleted", err)
	}
	for _, exp := range []eventstore.ExpectedVersion{eventstore.Any, eventstore.NoStream, eventstore.StreamExists, eventstore.Exact(2), eventstore.Exact(3)} {
		if _, err := s.Append(ctx, "gone", exp, []eventstore.Event{jsonEvent("C", 3)}); !errors.Is(err, eventstore.ErrStreamDeleted) {
			t.Errorf("Append(%v) to a tombstoned stream = %v, want ErrStreamDeleted", exp, err)
		}
	}
	if k, ok := eventstore.As[eventstore.KeyedAppender](s); ok {
		if _, err := k.AppendKeyed(ctx, "cmd-1", "gone", eventstore.Any, []eventstore.Event{jsonEvent("C", 3)}); !errors.Is(err, eventstore.ErrStreamDeleted) {
			t.Errorf("AppendKeyed to a tombstoned stream = %v, want ErrStreamDeleted", err)
		}
	}
	if _, err := l.DeleteStream(ctx, "gone", eventstore.Any, eventstore.HardDelete); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("second hard delete = %v, want ErrStreamDeleted", err)
	}
	if _, err := l.TruncateStream(ctx, "gone", 1); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("TruncateStream of a tombstoned stream = %v, want ErrStreamDeleted", err)
	}

	all := readAllUntil(t, cfg, s, 2)
	var types []string
	for _, r := range all {
		types = append(types, r.StreamID+" "+r.Type)
	}
	if want := []string{"keep K", "gone " + eventstore.StreamTombstoneType}; !cmp.Equal(types, want) {
		t.Fatalf("log after the hard delete = %q, want %q (the stream's events removed, its tombstone last)", types, want)
	}
	tomb := all[1]
	e, ok := eventstore.LifecycleEventOf(tomb)
	want := eventstore.LifecycleEvent{StreamID: "gone", Type: eventstore.StreamTombstoneType, Version: 2, Before: 4}
	if !ok || e != want || tomb.Position != pos || tomb.Version != 3 {
		t.Errorf("tombstone = %+v (%v) at %v version %d; want %+v at %v version 3", e, ok, tomb.Position, tomb.Version, want, pos)
	}
	if _, err := s.Append(ctx, "gone", eventstore.Exact(tomb.Version), []eventstore.Event{jsonEvent("C", 3)}); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("Append at the tombstone's version = %v, want ErrStreamDeleted", err)
	}

	// A soft-deleted stream and one that never existed can be tombstoned.
	mustAppend(t, s, "soft", eventstore.NoStream, jsonEvent("A", 1))
	if _, err := l.DeleteStream(ctx, "soft", eventstore.Any, eventstore.SoftDelete); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"soft", "never"} {
		if _, err := l.DeleteStream(ctx, id, eventstore.NoStream, eventstore.HardDelete); err != nil {
			t.Errorf("DeleteStream(%q, NoStream, hard) = %v", id, err)
		}
		if _, err := s.Append(ctx, id, eventstore.Any, []eventstore.Event{jsonEvent("C", 3)}); !errors.Is(err, eventstore.ErrStreamDeleted) {
			t.Errorf("Append to tombstoned %q = %v, want ErrStreamDeleted", id, err)
		}
	}
}

// raceAppends starts four writers appending to stream, one with Any and
// three at the exact versions they last saw, until each has tried 50 times
// or the stream is tombstoned or archived, and returns a function that
// waits for them and returns the versions their successful appends got.
func raceAppends(t *testing.T, s eventstore.Store, stream string) (wait func() []int64) {
	ctx := ctxFor(t)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		appended []int64
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := int64(1)
			for range 50 {
				exp := eventstore.Exact(next)
				if w == 0 {
					exp = eventstore.Any
				}
				res, err := s.Append(ctx, stream, exp, []eventstore.Event{jsonEvent("B", w)})
				var ce *eventstore.ConcurrencyError
				switch {
				case err == nil:
					next = res.StreamVersion
					mu.Lock()
					appended = append(appended, res.StreamVersion)
					mu.Unlock()
				case errors.As(err, &ce):
					next = ce.Actual
				case errors.Is(err, eventstore.ErrStreamDeleted), errors.Is(err, eventstore.ErrStreamArchived):
					return
				case w == 0:
					// A store may give up on an append at Any that
					// keeps losing to the exact ones (pgstore retries
					// a bounded number of times): not a lifecycle
					// matter.
					t.Logf("Append(Any) = %v", err)
					return
				default:
					t.Errorf("Append(%v) = %v", exp, err)
					return
				}
			}
		}()
	}
	return func() []int64 {
		wg.Wait()
		return appended
	}
}

// streamInLog returns stream's records in s's whole log, described for
// messages. It appends an event to another stream and reads until it.
func streamInLog(t *testing.T, cfg Config, s eventstore.Store, stream string) ([]eventstore.Record, []string) {
	end := mustAppend(t, s, "end-of-"+stream, eventstore.NoStream, jsonEvent("End", 0))
	var recs []eventstore.Record
	var desc []string
	for _, r := range readAllThrough(t, cfg, s, end.Position) {
		if r.StreamID == stream {
			recs = append(recs, r)
			desc = append(desc, fmt.Sprintf("%s@%d %v", r.Type, r.Version, r.Position))
		}
	}
	return recs, desc
}

// Appends racing a hard delete either come before the tombstone or fail:
// none is stored after it.
func testHardDeleteRace(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	mustAppend(t, s, "hot", eventstore.NoStream, jsonEvent("A", 1))
	wait := raceAppends(t, s, "hot")
	if _, err := l.DeleteStream(ctxFor(t), "hot", eventstore.Any, eventstore.HardDelete); err != nil {
		t.Errorf("DeleteStream(hard) during appends = %v", err)
	}
	wait()
	recs, desc := streamInLog(t, cfg, s, "hot")
	if len(recs) != 1 || recs[0].Type != eventstore.StreamTombstoneType {
		t.Errorf("stream's records in the log = %q, want the tombstone alone", desc)
	}
	if _, err := s.Append(ctxFor(t), "hot", eventstore.Any, []eventstore.Event{jsonEvent("C", 0)}); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("Append after the race = %v, want ErrStreamDeleted", err)
	}
}

// Appends racing a soft delete come before its marker in the log and in
// the stream, or after it in both, recreating the stream: ReadStream
// returns exactly the events the log holds after the marker.
func testSoftDeleteRace(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	mustAppend(t, s, "hot", eventstore.NoStream, jsonEvent("A", 1))
	wait := raceAppends(t, s, "hot")
	if _, err := l.DeleteStream(ctxFor(t), "hot", eventstore.Any, eventstore.SoftDelete); err != nil {
		t.Errorf("DeleteStream(soft) during appends = %v", err)
	}
	wait()
	recs, desc := streamInLog(t, cfg, s, "hot")
	marker := -1
	for i, r := range recs {
		if r.Version != int64(i)+1 {
			t.Fatalf("stream's records in the log = %q, want versions 1, 2, 3, ... in log order", desc)
		}
		if r.Type == eventstore.StreamDeletedType {
			marker = i
		}
	}
	if marker < 0 {
		t.Fatalf("stream's records in the log = %q, want a deletion marker", desc)
	}
	want := versionsOf(recs[marker+1:])
	got, err := s.ReadStream(ctxFor(t), "hot", 0, eventstore.Forward, 0)
	if len(want) == 0 && !errors.Is(err, eventstore.ErrStreamNotFound) || len(want) > 0 && !cmp.Equal(versionsOf(got), want) {
		t.Errorf("ReadStream after the race = versions %v, %v; the log after the marker holds %v", versionsOf(got), err, want)
	}
}

// readAllThrough reads s's log up to and including position end, polling
// until it is visible or cfg.Visibility passes.
func readAllThrough(t *testing.T, cfg Config, s eventstore.Store, end eventstore.Position) []eventstore.Record {
	t.Helper()
	deadline := time.Now().Add(cfg.Visibility)
	var all []eventstore.Record
	var after eventstore.Position
	for after.Before(end) {
		batch, err := s.ReadAll(ctxFor(t), after, 0)
		if err != nil {
			t.Fatalf("ReadAll(%v) = %v", after, err)
		}
		if err := checkPage(after, 0, batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
		if len(batch) > 0 {
			after = batch[len(batch)-1].Position
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("ReadAll did not reach %v within %v", end, cfg.Visibility)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return all
}

func testTruncate(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "t", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("B", 2), jsonEvent("C", 3), jsonEvent("D", 4), jsonEvent("E", 5))
	pos, err := l.TruncateStream(ctx, "t", 3)
	if err != nil || pos.IsZero() {
		t.Fatalf("TruncateStream(3) = %v, %v", pos, err)
	}
	read := func(from int64, dir eventstore.Direction, limit int) []int64 {
		t.Helper()
		recs, err := s.ReadStream(ctx, "t", from, dir, limit)
		if err != nil {
			t.Fatalf("ReadStream(%d, %v, %d) = %v", from, dir, limit, err)
		}
		return versionsOf(recs)
	}
	for _, c := range []struct {
		from  int64
		dir   eventstore.Direction
		limit int
		want  []int64
	}{
		{0, eventstore.Forward, 0, []int64{3, 4, 5}},
		{1, eventstore.Forward, 1, []int64{3}},
		{4, eventstore.Forward, 0, []int64{4, 5}},
		{eventstore.StreamEnd, eventstore.Backward, 0, []int64{5, 4, 3}},
		{2, eventstore.Backward, 0, []int64{}},
	} {
		if got := read(c.from, c.dir, c.limit); !cmp.Equal(got, c.want) {
			t.Errorf("ReadStream(%d, %v, %d) after truncating before 3 = %v, want %v", c.from, c.dir, c.limit, got, c.want)
		}
	}
	if res := mustAppend(t, s, "t", eventstore.Exact(5), jsonEvent("F", 6)); res.StreamVersion != 6 {
		t.Errorf("Append after truncating: version %d, want 6", res.StreamVersion)
	}
	if _, err := s.Append(ctx, "t", eventstore.NoStream, []eventstore.Event{jsonEvent("X", 0)}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("Append(NoStream) to a truncated stream = %v, want ErrConcurrency", err)
	}
	if pos, err := l.TruncateStream(ctx, "t", 2); err != nil || !pos.IsZero() {
		t.Errorf("TruncateStream below the earlier truncation = %v, %v; want nothing done", pos, err)
	}
	if _, err := l.TruncateStream(ctx, "t", 7); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("TruncateStream beyond the version = %v, want ErrInvalidInput", err)
	}
	if _, err := l.TruncateStream(ctx, "none", 1); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("TruncateStream of a missing stream = %v, want ErrStreamNotFound", err)
	}
	if _, err := l.TruncateStream(ctx, "t", 6); err != nil {
		t.Fatalf("TruncateStream(version) = %v", err)
	}
	if got := read(0, eventstore.Forward, 0); !cmp.Equal(got, []int64{6}) {
		t.Errorf("ReadStream after truncating before the last version = %v, want [6]", got)
	}

	evs, recs := lifecycleEvents(t, cfg, s, 8)
	want := []eventstore.LifecycleEvent{
		{StreamID: "t", Type: eventstore.StreamTruncatedType, Version: 5, Before: 3},
		{StreamID: "t", Type: eventstore.StreamTruncatedType, Version: 6, Before: 6},
	}
	if !cmp.Equal(evs, want) {
		t.Fatalf("lifecycle events = %+v, want %+v", evs, want)
	}
	if recs[0].Position != pos || recs[0].StreamID != eventstore.MetadataStreamID("t") {
		t.Errorf("truncation event at %v in %q, want %v in %q", recs[0].Position, recs[0].StreamID, pos, eventstore.MetadataStreamID("t"))
	}
}

func testLifecycleInvalid(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "s", eventstore.NoStream, jsonEvent("A", 1))
	for _, typ := range []string{eventstore.StreamDeletedType, eventstore.StreamTombstoneType, eventstore.StreamTruncatedType, "$stream.other"} {
		if _, err := s.Append(ctx, "s", eventstore.Any, []eventstore.Event{{Type: typ, Data: []byte(`{"stream_id":"s"}`)}}); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("Append of type %q = %v, want ErrInvalidInput", typ, err)
		}
	}
	for name, call := range map[string]func() error{
		"TruncateStream(before 0)": func() error { _, err := l.TruncateStream(ctx, "s", 0); return err },
		"DeleteStream(mode 7)": func() error {
			_, err := l.DeleteStream(ctx, "s", eventstore.Any, eventstore.DeleteMode(7))
			return err
		},
		"DeleteStream(expected -9)": func() error {
			_, err := l.DeleteStream(ctx, "s", eventstore.ExpectedVersion(-9), eventstore.SoftDelete)
			return err
		},
		"DeleteStream(empty ID)": func() error {
			_, err := l.DeleteStream(ctx, "", eventstore.Any, eventstore.SoftDelete)
			return err
		},
	} {
		if err := call(); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("%s = %v, want ErrInvalidInput", name, err)
		}
	}
	if got := versionsOf(readStream(t, s, "s")); !cmp.Equal(got, []int64{1}) {
		t.Errorf("stream after refused operations reads %v, want [1]", got)
	}
}

// A tenant deletes and truncates only its own streams, and only its log
// tells of it.
func testLifecycleTenants(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	a, b := forTenant(t, cfg, s, "tenant-a"), forTenant(t, cfg, s, "tenant-b")
	la, lb := lifecycleOf(t, a), lifecycleOf(t, b)
	mustAppend(t, a, "shared", eventstore.NoStream, jsonEvent("A", 1))
	mustAppend(t, b, "shared", eventstore.NoStream, jsonEvent("B", 1), jsonEvent("B", 2))
	mustAppend(t, b, "only-b", eventstore.NoStream, jsonEvent("B", 3))

	if _, err := la.DeleteStream(ctx, "only-b", eventstore.Any, eventstore.SoftDelete); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("tenant a soft-deleting b's stream = %v, want ErrStreamNotFound", err)
	}
	if _, err := la.TruncateStream(ctx, "only-b", 2); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("tenant a truncating b's stream = %v, want ErrStreamNotFound", err)
	}
	if _, err := la.DeleteStream(ctx, "shared", eventstore.Exact(1), eventstore.HardDelete); err != nil {
		t.Fatalf("tenant a hard-deleting its stream = %v", err)
	}
	if got := versionsOf(readStream(t, b, "shared")); !cmp.Equal(got, []int64{1, 2}) {
		t.Errorf("b's stream after a's hard delete of the same ID reads %v, want [1 2]", got)
	}
	if got := versionsOf(readStream(t, b, "only-b")); !cmp.Equal(got, []int64{1}) {
		t.Errorf("b's stream after a's attempts reads %v, want [1]", got)
	}
	mustAppend(t, b, "shared", eventstore.Exact(2), jsonEvent("B", 4))
	if _, err := lb.TruncateStream(ctx, "shared", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, "shared", eventstore.Any, []eventstore.Event{jsonEvent("A", 2)}); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("a's append to its tombstoned stream = %v, want ErrStreamDeleted", err)
	}
	evA, _ := lifecycleEvents(t, cfg, a, 1)
	evB, _ := lifecycleEvents(t, cfg, b, 5)
	if len(evA) != 1 || !evA[0].Hard() || len(evB) != 1 || evB[0].Type != eventstore.StreamTruncatedType {
		t.Errorf("lifecycle events: tenant a's log %+v, b's %+v; want a's hard delete and b's truncation only", evA, evB)
	}

	// Each tenant reclaims its own streams only.
	ra, okA := eventstore.As[eventstore.Reclaimer](a)
	rb, okB := eventstore.As[eventstore.Reclaimer](b)
	if !okA || !okB {
		return
	}
	mustAppend(t, a, "a-soft", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("A", 2))
	if _, err := la.DeleteStream(ctx, "a-soft", eventstore.Any, eventstore.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if n, err := rb.ReclaimStreams(ctx); err != nil || n != 2 {
		t.Errorf("tenant b's ReclaimStreams = %d, %v; want its truncated events, 2", n, err)
	}
	if n, err := ra.ReclaimStreams(ctx); err != nil || n != 2 {
		t.Errorf("tenant a's ReclaimStreams = %d, %v; want its soft-deleted events, 2", n, err)
	}
}

func testRetention(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "r", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("B", 2), jsonEvent("C", 3), jsonEvent("D", 4), jsonEvent("E", 5))
	read := func(stream string, dir eventstore.Direction) []int64 {
		t.Helper()
		from := int64(0)
		if dir == eventstore.Backward {
			from = eventstore.StreamEnd
		}
		recs, err := s.ReadStream(ctx, stream, from, dir, 0)
		if err != nil {
			t.Fatalf("ReadStream(%q) = %v", stream, err)
		}
		return versionsOf(recs)
	}
	pos, err := l.SetStreamMetadata(ctx, "r", eventstore.StreamMetadata{MaxCount: 2})
	if err != nil || pos.IsZero() {
		t.Fatalf("SetStreamMetadata(MaxCount 2) = %v, %v", pos, err)
	}
	if got := read("r", eventstore.Forward); !cmp.Equal(got, []int64{4, 5}) {
		t.Errorf("ReadStream with MaxCount 2 = %v, want [4 5]", got)
	}
	if got := read("r", eventstore.Backward); !cmp.Equal(got, []int64{5, 4}) {
		t.Errorf("ReadStream backward with MaxCount 2 = %v, want [5 4]", got)
	}
	if m, err := l.ReadStreamMetadata(ctx, "r"); err != nil || m != (eventstore.StreamMetadata{MaxCount: 2}) {
		t.Errorf("ReadStreamMetadata = %+v, %v; want MaxCount 2", m, err)
	}
	mustAppend(t, s, "r", eventstore.Exact(5), jsonEvent("F", 6))
	if got := read("r", eventstore.Forward); !cmp.Equal(got, []int64{5, 6}) {
		t.Errorf("ReadStream with MaxCount 2 after an append = %v, want [5 6]", got)
	}
	if _, err := l.SetStreamMetadata(ctx, "r", eventstore.StreamMetadata{MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got := read("r", eventstore.Forward); !cmp.Equal(got, []int64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("ReadStream with MaxAge 1h = %v, want every event", got)
	}
	if _, err := l.SetStreamMetadata(ctx, "r", eventstore.StreamMetadata{MaxAge: time.Microsecond}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // so that every event is older than MaxAge
	if got := read("r", eventstore.Forward); len(got) != 0 {
		t.Errorf("ReadStream with MaxAge 1µs = %v, want no events (and no error: the stream exists)", got)
	}
	if m, err := l.ReadStreamMetadata(ctx, "r"); err != nil || m != (eventstore.StreamMetadata{MaxAge: time.Microsecond}) {
		t.Errorf("ReadStreamMetadata = %+v, %v; want MaxAge 1µs", m, err)
	}
	if _, err := s.Append(ctx, "r", eventstore.NoStream, []eventstore.Event{jsonEvent("X", 0)}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("Append(NoStream) to a stream retention hides = %v, want ErrConcurrency", err)
	}

	// Metadata may come before the stream.
	if _, err := l.SetStreamMetadata(ctx, "future", eventstore.StreamMetadata{MaxCount: 1}); err != nil {
		t.Fatalf("SetStreamMetadata of a stream yet to exist = %v", err)
	}
	if _, err := s.ReadStream(ctx, "future", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("ReadStream of a stream with metadata only = %v, want ErrStreamNotFound", err)
	}
	if _, err := s.Append(ctx, "future", eventstore.StreamExists, []eventstore.Event{jsonEvent("X", 0)}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("Append(StreamExists) to a stream with metadata only = %v, want ErrConcurrency", err)
	}
	mustAppend(t, s, "future", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("B", 2))
	if got := read("future", eventstore.Forward); !cmp.Equal(got, []int64{2}) {
		t.Errorf("ReadStream of the new stream with MaxCount 1 = %v, want [2]", got)
	}

	if _, err := l.SetStreamMetadata(ctx, "r", eventstore.StreamMetadata{MaxCount: -1}); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("SetStreamMetadata(MaxCount -1) = %v, want ErrInvalidInput", err)
	}
	if _, err := l.DeleteStream(ctx, "future", eventstore.Any, eventstore.HardDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetStreamMetadata(ctx, "future", eventstore.StreamMetadata{}); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("SetStreamMetadata of a tombstoned stream = %v, want ErrStreamDeleted", err)
	}
	if _, err := l.ReadStreamMetadata(ctx, "future"); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("ReadStreamMetadata of a tombstoned stream = %v, want ErrStreamDeleted", err)
	}

	evs, recs := lifecycleEvents(t, cfg, s, 6) // r's five events, then its metadata
	if len(evs) == 0 || evs[0].Type != eventstore.StreamMetadataType || evs[0].StreamID != "r" || evs[0].Version != 5 ||
		evs[0].Metadata == nil || *evs[0].Metadata != (eventstore.StreamMetadata{MaxCount: 2}) || recs[0].Position != pos {
		t.Errorf("first lifecycle event = %+v, want the metadata of r at version 5 with MaxCount 2, at %v", evs, pos)
	}
}

// testReclaim checks eventstore.Reclaimer. It runs when Features.Reclaim
// is declared.
func testReclaim(t *testing.T, cfg Config) {
	s := cfg.New(t)
	r := capability[eventstore.Reclaimer](t, s)
	l := lifecycleOf(t, s)
	ctx := ctxFor(t)
	ev := []eventstore.Event{jsonEvent("A", 1), jsonEvent("B", 2), jsonEvent("C", 3), jsonEvent("D", 4)}
	for _, id := range []string{"del", "tr", "cnt", "plain"} {
		mustAppend(t, s, id, eventstore.NoStream, ev...)
	}
	for _, err := range []error{
		func() error { _, err := l.DeleteStream(ctx, "del", eventstore.Any, eventstore.SoftDelete); return err }(),
		func() error { _, err := l.TruncateStream(ctx, "tr", 3); return err }(),
		func() error {
			_, err := l.SetStreamMetadata(ctx, "cnt", eventstore.StreamMetadata{MaxCount: 1})
			return err
		}(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := r.ReclaimStreams(ctx); err != nil || n != 9 {
		t.Errorf("ReclaimStreams = %d, %v; want 9 (del 1-4, tr 1-2, cnt 1-3)", n, err)
	}
	want := []string{"tr@3", "tr@4", "cnt@4", "plain@1", "plain@2", "plain@3", "plain@4", "del@5"}
	if got := streamsInLog(t, cfg, s); !cmp.Equal(got, want) {
		t.Errorf("log after ReclaimStreams = %v, want %v (each stream's last event kept)", got, want)
	}
	read := func(stream string) []int64 {
		t.Helper()
		recs, err := s.ReadStream(ctx, stream, 0, eventstore.Forward, 0)
		if err != nil {
			t.Fatalf("ReadStream(%q) = %v", stream, err)
		}
		return versionsOf(recs)
	}
	for stream, want := range map[string][]int64{"tr": {3, 4}, "cnt": {4}, "plain": {1, 2, 3, 4}} {
		if got := read(stream); !cmp.Equal(got, want) {
			t.Errorf("ReadStream(%q) after ReclaimStreams = %v, want %v", stream, got, want)
		}
	}
	if res := mustAppend(t, s, "del", eventstore.NoStream, jsonEvent("E", 5)); res.StreamVersion != 6 {
		t.Errorf("recreating the reclaimed stream: version %d, want 6", res.StreamVersion)
	}
	if n, err := r.ReclaimStreams(ctx); err != nil || n != 1 {
		t.Errorf("second ReclaimStreams = %d, %v; want 1 (del's marker, no longer its last event)", n, err)
	}
	if _, err := l.SetStreamMetadata(ctx, "cnt", eventstore.StreamMetadata{}); err != nil {
		t.Fatal(err)
	}
	if got := read("cnt"); !cmp.Equal(got, []int64{4}) {
		t.Errorf("ReadStream(cnt) after lifting its retention = %v, want [4]: reclaimed events stay gone", got)
	}
	if got := read("del"); !cmp.Equal(got, []int64{6}) {
		t.Errorf("ReadStream(del) = %v, want [6]", got)
	}
}

// streamsInLog lists the events of s's whole log as stream@version,
// leaving out metadata streams.
func streamsInLog(t *testing.T, cfg Config, s eventstore.Store) []string {
	t.Helper()
	end := mustAppend(t, s, "$$end", eventstore.Any, jsonEvent("End", 0))
	var out []string
	for _, rec := range readAllThrough(t, cfg, s, end.Position) {
		if !strings.HasPrefix(rec.StreamID, "$$") {
			out = append(out, fmt.Sprintf("%s@%d", rec.StreamID, rec.Version))
		}
	}
	return out
}

// testFilteredAfterHardDelete checks that a filtered read sees the log a
// plain ReadAll sees after a hard delete: the tombstone, never the erased
// events. It runs when Features.Lifecycle and Features.Filtered are both
// declared.
func testFilteredAfterHardDelete(t *testing.T, cfg Config) {
	s := cfg.New(t)
	l := lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "order-1", eventstore.NoStream, jsonEvent("Placed", 1), jsonEvent("Paid", 2))
	mustAppend(t, s, "order-2", eventstore.NoStream, jsonEvent("Placed", 1))
	if _, err := l.DeleteStream(ctx, "order-1", eventstore.Exact(2), eventstore.HardDelete); err != nil {
		t.Fatalf("DeleteStream(hard) = %v", err)
	}
	want := readAllUntil(t, cfg, s, 2)
	for _, f := range []eventstore.Filter{
		{StreamPrefixes: []string{"order-"}},
		{},
		{Types: []string{"Placed", "Paid", eventstore.StreamTombstoneType}},
	} {
		page, err := eventstore.ReadAllFiltered(ctx, s, eventstore.Position{}, f, 0)
		if err != nil {
			t.Fatalf("ReadAllFiltered(%+v) = %v", f, err)
		}
		if got, w := describe(page.Records), describe(want); !cmp.Equal(got, w) {
			t.Errorf("ReadAllFiltered(%+v) after a hard delete = %q, want what ReadAll returns: %q", f, got, w)
		}
	}
}

func describe(recs []eventstore.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.StreamID+" "+r.Type)
	}
	return out
}
