package eventstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
)

// Config describes the store under test.
type Config struct {
	// New returns an empty store isolated from every other call. It is
	// called once per subtest and registers its own cleanup with t.Cleanup.
	New func(t testing.TB) eventstore.Store
	// Visibility bounds how long an appended event may take to appear in
	// ReadAll. Zero means 30 seconds.
	Visibility time.Duration
	// Features declares the store's optional capabilities. The zero value
	// declares none: a store that has one fails the suite.
	Features Features
	// HoldAppend appends events to stream of s, with Any, in a
	// transaction it keeps open until commit is called, as a slow writer
	// does, and returns the append's result. The held-append tests use it
	// to check that a reader of the log (ReadAll, and ReadAllFiltered with
	// Features.Filtered) never passes an event that commits late. Nil for
	// a store whose appends become visible at once: the suite then logs
	// that it did not check.
	HoldAppend func(t testing.TB, s eventstore.Store, stream string, events []eventstore.Event) (res eventstore.AppendResult, commit func())
}

// suiteTest is one subtest of Run.
type suiteTest struct {
	name string
	fn   func(t *testing.T, cfg Config)
}

// Run runs the conformance suite as parallel subtests of t: the tests of
// the port's contract, and those of every feature cfg declares.
func Run(t *testing.T, cfg Config) {
	if cfg.New == nil {
		t.Fatal("eventstoretest: Config.New is nil")
	}
	if cfg.Visibility == 0 {
		cfg.Visibility = 30 * time.Second
	}
	checkFeatures(t, cfg)
	tests := []suiteTest{
		{"Append/RoundTrip", testRoundTrip},
		{"Append/ExpectedVersion", testExpectedVersion},
		{"Append/ConcurrentOneStream", testConcurrentOneStream},
		{"Append/ConcurrentAnyOneStream", testConcurrentAnyOneStream},
		{"Append/ConcurrentManyStreams", testConcurrentManyStreams},
		{"Append/Idempotent", testIdempotent},
		{"Append/InvalidInput", testInvalidInput},
		{"Append/HostileStreamIDs", testHostileStreamIDs},
		{"Append/Cancelled", testCancelled},
		{"ReadStream/Directions", testReadStreamDirections},
		{"ReadStream/NotFound", testReadStreamNotFound},
		{"ReadAll/OrderedAndComplete", testReadAllOrdered},
		{"ReadAll/Paging", testReadAllPaging},
		{"ReadAll/Between", testReadAllBetween},
		{"ReadAll/TailWhileWriting", testTailWhileWriting},
		{"Append/Ownership", testOwnership},
		{"Append/UpperCaseIDs", testUpperCaseIDs},
	}
	tests = append(tests, featureTests(cfg.Features)...)
	logUncheckedHeld(t, cfg)
	if cfg.HoldAppend != nil {
		// A held append holds back every reader of the database, not only
		// its own test's: these run one at a time, before the others.
		for _, tc := range heldTests(cfg) {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, cfg) })
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, cfg)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func jsonEvent(typ string, n int) eventstore.Event {
	return eventstore.Event{Type: typ, Data: []byte(fmt.Sprintf(`{"n":%d}`, n))}
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedVersion, events ...eventstore.Event) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(ctxFor(t), stream, exp, events)
	if err != nil {
		t.Fatalf("Append(%q, %v) = %v", stream, exp, err)
	}
	return res
}

func readStream(t *testing.T, s eventstore.Store, stream string) []eventstore.Record {
	t.Helper()
	recs, err := s.ReadStream(ctxFor(t), stream, 0, eventstore.Forward, 0)
	if err != nil {
		t.Fatalf("ReadStream(%q) = %v", stream, err)
	}
	return recs
}

// readAllUntil reads the whole global log, polling until it holds at least
// want events or cfg.Visibility passes. It fails, rather than loop, when a
// page breaks the rules of ReadAll (see checkPage) or the store keeps
// returning events for twice cfg.Visibility.
func readAllUntil(t *testing.T, cfg Config, s eventstore.LogReader, want int) []eventstore.Record {
	t.Helper()
	start := time.Now()
	deadline := start.Add(cfg.Visibility)
	var all []eventstore.Record
	var after eventstore.Position
	for {
		batch, err := s.ReadAll(ctxFor(t), after, 0)
		if err != nil {
			t.Fatalf("ReadAll(%v) = %v", after, err)
		}
		if err := checkPage(after, 0, batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
		if time.Since(start) > 2*cfg.Visibility {
			t.Fatalf("ReadAll still returns events after %v: read %d, want %d", 2*cfg.Visibility, len(all), want)
		}
		if len(batch) > 0 {
			after = batch[len(batch)-1].Position
			continue
		}
		if len(all) >= want || time.Now().After(deadline) {
			return all
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkPage checks one ReadAll page: at most limit records (when limit is
// not 0), each strictly after the position asked for and after the one
// before it. A store that returns the event at after again would make every
// tailer read it forever.
func checkPage(after eventstore.Position, limit int, page []eventstore.Record) error {
	if limit > 0 && len(page) > limit {
		return fmt.Errorf("ReadAll(%v, %d) returned %d records, more than the limit", after, limit, len(page))
	}
	prev := after
	for i, r := range page {
		if !prev.Before(r.Position) {
			return fmt.Errorf("ReadAll(%v, %d): record %d at %v is not after %v; a tailer would read it again or loop forever", after, limit, i, r.Position, prev)
		}
		prev = r.Position
	}
	return nil
}

func testRoundTrip(t *testing.T, cfg Config) {
	s := cfg.New(t)
	id := eventstore.NewEventID()
	in := []eventstore.Event{
		{ID: id, Type: "AccountOpened", Data: []byte(`{"owner":"ada","limit":100}`),
			Metadata: eventstore.Metadata{CorrelationID: "corr-1", CausationID: "cmd-1", Extra: map[string]string{"user": "u1"}}},
		{Type: "Deposited", Data: []byte(`{"amount": 5}`)},
		{Type: "Blob", Data: []byte{0, 1, 2, 255}, ContentType: "application/octet-stream"},
	}
	before := time.Now().Add(-time.Minute)
	res := mustAppend(t, s, "account-1", eventstore.NoStream, in...)
	if res.StreamVersion != 3 || res.Replayed {
		t.Fatalf("Append result = %+v, want version 3, not replayed", res)
	}
	got := readStream(t, s, "account-1")
	if len(got) != 3 {
		t.Fatalf("ReadStream returned %d records, want 3", len(got))
	}
	if got[0].ID != id {
		t.Errorf("record 0 ID = %q, want %q", got[0].ID, id)
	}
	for i, r := range got {
		if !eventstore.IsEventID(r.ID) {
			t.Errorf("record %d ID %q is not a UUID", i, r.ID)
		}
		if r.StreamID != "account-1" || r.Version != int64(i+1) || r.Type != in[i].Type || !bytes.Equal(r.Data, in[i].Data) {
			t.Errorf("record %d = {stream %q, version %d, type %q, data %q}, want {account-1, %d, %q, %q}",
				i, r.StreamID, r.Version, r.Type, r.Data, i+1, in[i].Type, in[i].Data)
		}
		wantCT := in[i].ContentType
		if wantCT == "" {
			wantCT = eventstore.ContentTypeJSON
		}
		if r.ContentType != wantCT {
			t.Errorf("record %d content type = %q, want %q", i, r.ContentType, wantCT)
		}
		if diff := cmp.Diff(in[i].Metadata, r.Metadata); diff != "" {
			t.Errorf("record %d metadata (-want +got):\n%s", i, diff)
		}
		if r.RecordedAt.Before(before) || r.RecordedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("record %d recorded at %v, not about now", i, r.RecordedAt)
		}
		if i > 0 && !got[i-1].Position.Before(r.Position) {
			t.Errorf("record %d position %v is not after %v", i, r.Position, got[i-1].Position)
		}
	}
	if res.Position != got[2].Position {
		t.Errorf("Append returned position %v, last record has %v", res.Position, got[2].Position)
	}
	if got[0].ID == got[1].ID || got[1].ID == got[2].ID {
		t.Errorf("generated IDs are not unique: %q %q %q", got[0].ID, got[1].ID, got[2].ID)
	}
	all := readAllUntil(t, cfg, s, 3)
	if diff := cmp.Diff(got, all); diff != "" {
		t.Errorf("ReadAll differs from ReadStream (-stream +all):\n%s", diff)
	}
}

func testExpectedVersion(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	mustAppend(t, s, "existing", eventstore.NoStream, jsonEvent("E", 1), jsonEvent("E", 2))

	cases := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		ok       bool
		actual   int64
	}{
		{"NoStream/new", "new-1", eventstore.NoStream, true, 0},
		{"NoStream/existing", "existing", eventstore.NoStream, false, 2},
		{"Exact/right", "existing", eventstore.Exact(2), true, 2},
		{"Exact/behind", "existing", eventstore.Exact(1), false, 2},
		{"Exact/ahead", "existing", eventstore.Exact(7), false, 2},
		{"Exact/missing", "new-2", eventstore.Exact(1), false, 0},
		{"StreamExists/existing", "existing", eventstore.StreamExists, true, 2},
		{"StreamExists/missing", "new-3", eventstore.StreamExists, false, 0},
		{"Any/existing", "existing", eventstore.Any, true, 2},
		{"Any/new", "new-4", eventstore.Any, true, 0},
	}
	for _, c := range cases {
		stream := c.stream
		if stream == "existing" {
			stream = "existing-" + strings.ReplaceAll(c.name, "/", "-")
			mustAppend(t, s, stream, eventstore.NoStream, jsonEvent("E", 1), jsonEvent("E", 2))
		}
		res, err := s.Append(ctx, stream, c.expected, []eventstore.Event{jsonEvent("X", 0)})
		if c.ok {
			if err != nil {
				t.Errorf("%s: Append = %v, want success", c.name, err)
			} else if res.StreamVersion != c.actual+1 {
				t.Errorf("%s: new version %d, want %d", c.name, res.StreamVersion, c.actual+1)
			}
			continue
		}
		if !errors.Is(err, eventstore.ErrConcurrency) {
			t.Errorf("%s: Append = %v, want ErrConcurrency", c.name, err)
			continue
		}
		var ce *eventstore.ConcurrencyError
		if !errors.As(err, &ce) {
			t.Errorf("%s: error %T is not a *ConcurrencyError", c.name, err)
			continue
		}
		if ce.Expected != c.expected || ce.Actual != c.actual || ce.StreamID != stream {
			t.Errorf("%s: ConcurrencyError = %+v, want expected %v actual %d stream %q", c.name, *ce, c.expected, c.actual, stream)
		}
		recs, err := s.ReadStream(ctx, stream, 0, eventstore.Forward, 0)
		if c.actual == 0 {
			if !errors.Is(err, eventstore.ErrStreamNotFound) {
				t.Errorf("%s: after a failed append the stream exists: %v, %d records", c.name, err, len(recs))
			}
		} else if len(recs) != int(c.actual) {
			t.Errorf("%s: after a failed append the stream has %d events, want %d", c.name, len(recs), c.actual)
		}
	}
}

func testConcurrentOneStream(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	const rounds, writers = 10, 8
	for v := int64(0); v < rounds; v++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		var other []error
		start := make(chan struct{})
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.Append(ctx, "hot", eventstore.Exact(v), []eventstore.Event{jsonEvent("Tick", w)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, eventstore.ErrConcurrency):
					conflicts++
				default:
					other = append(other, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || conflicts != writers-1 || len(other) > 0 {
			t.Fatalf("version %d: %d wins, %d conflicts, other errors %v; want exactly 1 win", v, wins, conflicts, other)
		}
	}
	recs := readStream(t, s, "hot")
	if len(recs) != rounds {
		t.Fatalf("stream has %d events, want %d", len(recs), rounds)
	}
	for i, r := range recs {
		if r.Version != int64(i+1) {
			t.Errorf("event %d has version %d", i, r.Version)
		}
	}
}

func testConcurrentManyStreams(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	const writers, appends = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*appends)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("stream-%d", w)
			for i := 0; i < appends; i++ {
				events := []eventstore.Event{jsonEvent("A", i), jsonEvent("B", i)}
				if _, err := s.Append(ctx, stream, eventstore.Exact(int64(2*i)), events); err != nil {
					errs <- fmt.Errorf("%s append %d: %w", stream, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all := readAllUntil(t, cfg, s, writers*appends*2)
	checkLog(t, all, writers*appends*2)
	for w := 0; w < writers; w++ {
		if recs := readStream(t, s, fmt.Sprintf("stream-%d", w)); len(recs) != appends*2 {
			t.Errorf("stream-%d has %d events, want %d", w, len(recs), appends*2)
		}
	}
}

// checkLog verifies a global log: want events, strictly increasing
// positions, no duplicate IDs, and stream versions in order per stream.
func checkLog(t *testing.T, all []eventstore.Record, want int) {
	t.Helper()
	if len(all) != want {
		t.Errorf("global log has %d events, want %d", len(all), want)
	}
	ids := make(map[string]bool, len(all))
	versions := make(map[string]int64)
	for i, r := range all {
		if ids[r.ID] {
			t.Errorf("event %s appears twice in the global log", r.ID)
		}
		ids[r.ID] = true
		if i > 0 && !all[i-1].Position.Before(r.Position) {
			t.Errorf("log position %d (%v) is not after %v", i, r.Position, all[i-1].Position)
		}
		if r.Version != versions[r.StreamID]+1 {
			t.Errorf("stream %q: version %d follows %d in the global log", r.StreamID, r.Version, versions[r.StreamID])
		}
		versions[r.StreamID] = r.Version
	}
}

func testIdempotent(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	batch := []eventstore.Event{
		{ID: eventstore.NewEventID(), Type: "A", Data: []byte(`1`)},
		{ID: eventstore.NewEventID(), Type: "B", Data: []byte(`2`)},
	}
	mustAppend(t, s, "other", eventstore.NoStream, jsonEvent("X", 0))
	first := mustAppend(t, s, "idem", eventstore.NoStream, batch...)
	mustAppend(t, s, "idem", eventstore.Exact(2), jsonEvent("C", 3))

	// A retry of the first append, with an expected version that no longer
	// holds, returns the first result and stores nothing.
	again, err := s.Append(ctx, "idem", eventstore.NoStream, batch)
	if err != nil {
		t.Fatalf("retry: Append = %v, want the first result", err)
	}
	want := first
	want.Replayed = true
	if again != want {
		t.Errorf("retry: Append = %+v, want %+v", again, want)
	}
	upper := []eventstore.Event{batch[0], batch[1]}
	upper[0].ID = strings.ToUpper(upper[0].ID)
	upper[1].ID = strings.ToUpper(upper[1].ID)
	if res, err := s.Append(ctx, "idem", eventstore.Any, upper); err != nil || !res.Replayed {
		t.Errorf("retry with upper-case IDs: Append = %+v, %v; want a replay", res, err)
	}

	// Resending the tail of a stored batch is a retry too.
	if res, err := s.Append(ctx, "idem", eventstore.Exact(0), batch[1:]); err != nil || !res.Replayed || res.StreamVersion != 2 {
		t.Errorf("resent tail: Append = %+v, %v; want a replay at version 2", res, err)
	}

	// Any other reuse of an ID fails and stores nothing.
	reuse := []struct {
		name   string
		stream string
		events []eventstore.Event
	}{
		{"other stream", "other", batch},
		{"new tail", "idem", []eventstore.Event{batch[0], batch[1], jsonEvent("D", 4)}},
		{"new head", "idem", []eventstore.Event{jsonEvent("D", 4), batch[0]}},
	}
	for _, r := range reuse {
		_, err := s.Append(ctx, r.stream, eventstore.Any, r.events)
		if !errors.Is(err, eventstore.ErrDuplicateEvent) {
			t.Errorf("%s: Append = %v, want ErrDuplicateEvent", r.name, err)
		}
	}
	if n := len(readStream(t, s, "idem")); n != 3 {
		t.Errorf("stream idem has %d events, want 3", n)
	}
	if n := len(readStream(t, s, "other")); n != 1 {
		t.Errorf("stream other has %d events, want 1", n)
	}
	checkLog(t, readAllUntil(t, cfg, s, 4), 4)

	// Concurrent retries of one append: one stores, the others replay.
	retry := []eventstore.Event{{ID: eventstore.NewEventID(), Type: "R", Data: []byte(`{}`)}}
	var wg sync.WaitGroup
	results := make([]eventstore.AppendResult, 6)
	errs := make([]error, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Append(ctx, "race", eventstore.Any, retry)
		}()
	}
	wg.Wait()
	stored := 0
	for i := range results {
		if errs[i] != nil {
			t.Errorf("concurrent retry %d: %v", i, errs[i])
			continue
		}
		if !results[i].Replayed {
			stored++
		}
		if results[i].StreamVersion != 1 {
			t.Errorf("concurrent retry %d: version %d, want 1", i, results[i].StreamVersion)
		}
	}
	if stored != 1 {
		t.Errorf("%d concurrent retries stored the batch, want 1", stored)
	}
}

func testCommandKey(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ka := capability[eventstore.KeyedAppender](t, s)
	ctx := ctxFor(t)
	first, err := ka.AppendKeyed(ctx, "cmd-42", "keyed", eventstore.NoStream, []eventstore.Event{jsonEvent("A", 1)})
	if err != nil || first.Replayed {
		t.Fatalf("AppendKeyed = %+v, %v", first, err)
	}
	// The same command again, with new event IDs and a stale expected
	// version: nothing is stored, the first result comes back.
	again, err := ka.AppendKeyed(ctx, "cmd-42", "keyed", eventstore.NoStream, []eventstore.Event{jsonEvent("A", 1)})
	want := first
	want.Replayed = true
	if err != nil || again != want {
		t.Errorf("AppendKeyed again = %+v, %v; want %+v", again, err, want)
	}
	if _, err := ka.AppendKeyed(ctx, "cmd-43", "keyed", eventstore.Exact(1), []eventstore.Event{jsonEvent("B", 2)}); err != nil {
		t.Errorf("AppendKeyed with a new key = %v", err)
	}
	if n := len(readStream(t, s, "keyed")); n != 2 {
		t.Errorf("stream has %d events, want 2", n)
	}
	// A conflict records no key: the command may run again.
	if _, err := ka.AppendKeyed(ctx, "cmd-44", "keyed", eventstore.Exact(1), []eventstore.Event{jsonEvent("C", 3)}); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("AppendKeyed with a stale version = %v, want ErrConcurrency", err)
	}
	if res, err := ka.AppendKeyed(ctx, "cmd-44", "keyed", eventstore.Exact(2), []eventstore.Event{jsonEvent("C", 3)}); err != nil || res.Replayed {
		t.Errorf("AppendKeyed after a conflict = %+v, %v; want a fresh append", res, err)
	}
}

func testInvalidInput(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	mustAppend(t, s, "kept", eventstore.NoStream, jsonEvent("A", 1))
	ok := jsonEvent("A", 1)
	id := eventstore.NewEventID()
	cases := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		events   []eventstore.Event
	}{
		{"empty stream ID", "", eventstore.Any, []eventstore.Event{ok}},
		{"long stream ID", strings.Repeat("s", eventstore.MaxStreamIDBytes+1), eventstore.Any, []eventstore.Event{ok}},
		{"invalid UTF-8 stream ID", "bad-\xff", eventstore.Any, []eventstore.Event{ok}},
		{"NUL in stream ID", "bad\x00id", eventstore.Any, []eventstore.Event{ok}},
		{"expected version", "kept", eventstore.ExpectedVersion(-7), []eventstore.Event{ok}},
		{"no events", "kept", eventstore.Any, nil},
		{"empty type", "kept", eventstore.Any, []eventstore.Event{ok, {Data: []byte(`{}`)}}},
		{"invalid UTF-8 type", "kept", eventstore.Any, []eventstore.Event{{Type: "T\xfe", Data: []byte(`{}`)}}},
		{"data over limit", "kept", eventstore.Any, []eventstore.Event{{Type: "Big", Data: bigJSON(eventstore.DefaultMaxDataBytes + 1)}}},
		{"data not JSON", "kept", eventstore.Any, []eventstore.Event{ok, {Type: "A", Data: []byte(`{"a":`)}}},
		{"empty JSON data", "kept", eventstore.Any, []eventstore.Event{{Type: "A"}}},
		{"declared JSON not JSON", "kept", eventstore.Any, []eventstore.Event{{Type: "A", ContentType: eventstore.ContentTypeJSON, Data: []byte("x")}}},
		{"bad event ID", "kept", eventstore.Any, []eventstore.Event{{ID: "not-a-uuid", Type: "A", Data: []byte(`{}`)}}},
		{"duplicate IDs in batch", "kept", eventstore.Any, []eventstore.Event{{ID: id, Type: "A", Data: []byte(`{}`)}, {ID: id, Type: "A", Data: []byte(`{}`)}}},
		{"metadata invalid UTF-8", "kept", eventstore.Any, []eventstore.Event{{Type: "A", Data: []byte(`{}`), Metadata: eventstore.Metadata{CorrelationID: "\xff"}}}},
		{"metadata over limit", "kept", eventstore.Any, []eventstore.Event{{Type: "A", Data: []byte(`{}`), Metadata: extraOfSize(eventstore.MaxMetadataBytes + 1)}}},
		{"metadata entries over limit", "kept", eventstore.Any, []eventstore.Event{{Type: "A", Data: []byte(`{}`), Metadata: manyExtras(eventstore.MaxMetadataBytes/16 + 1)}}},
	}
	for _, c := range cases {
		_, err := s.Append(ctx, c.stream, c.expected, c.events)
		if !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("%s: Append = %v, want ErrInvalidInput", c.name, err)
			continue
		}
		var ie *eventstore.InvalidInputError
		if !errors.As(err, &ie) || ie.Field == "" || ie.Reason == "" {
			t.Errorf("%s: error %v does not name the field and reason", c.name, err)
		}
	}
	if n := len(readStream(t, s, "kept")); n != 1 {
		t.Errorf("stream kept has %d events after rejected appends, want 1", n)
	}
	if _, err := s.ReadStream(ctx, "", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ReadStream(\"\") = %v, want ErrInvalidInput", err)
	}
	if _, err := s.ReadStream(ctx, "kept", 0, eventstore.Forward, -1); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ReadStream with limit -1 = %v, want ErrInvalidInput", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.Position{}, -1); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ReadAll with limit -1 = %v, want ErrInvalidInput", err)
	}
	// Data and metadata right at their limits are accepted.
	mustAppend(t, s, "kept", eventstore.Exact(1), eventstore.Event{Type: "Big", Data: bigJSON(eventstore.DefaultMaxDataBytes),
		Metadata: extraOfSize(eventstore.MaxMetadataBytes)})
	checkLog(t, readAllUntil(t, cfg, s, 2), 2)
}

// extraOfSize returns metadata of exactly n bytes as MaxMetadataBytes counts
// them: one Extra entry with a one-byte key.
func extraOfSize(n int) eventstore.Metadata {
	return eventstore.Metadata{Extra: map[string]string{"k": strings.Repeat("x", n-1)}}
}

// manyExtras returns metadata of n entries of 16 bytes each.
func manyExtras(n int) eventstore.Metadata {
	m := eventstore.Metadata{Extra: make(map[string]string, n)}
	for i := range n {
		m.Extra[fmt.Sprintf("key-%08d", i)] = "value"
	}
	return m
}

// bigJSON returns a JSON string value of exactly n bytes.
func bigJSON(n int) []byte {
	b := bytes.Repeat([]byte("x"), n)
	b[0], b[n-1] = '"', '"'
	return b
}

func testHostileStreamIDs(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ids := []string{
		`quote'single`, `quote"double`, `semi;colon`, `'; DROP TABLE events; --`,
		`back\slash`, `percent%_like`, "tab\tand\nnewline", "ünïcødé-流-🙂", " spaced ", `{hash}:tag*?[x]`,
		strings.Repeat("é", eventstore.MaxStreamIDBytes/2),
	}
	for i, id := range ids {
		mustAppend(t, s, id, eventstore.NoStream, jsonEvent("Hostile", i))
	}
	for i, id := range ids {
		recs := readStream(t, s, id)
		if len(recs) != 1 || recs[0].StreamID != id || !bytes.Equal(recs[0].Data, jsonEvent("Hostile", i).Data) {
			t.Errorf("stream %q read back as %+v", id, recs)
		}
	}
	all := readAllUntil(t, cfg, s, len(ids))
	checkLog(t, all, len(ids))
	for i, r := range all {
		if r.StreamID != ids[i] {
			t.Errorf("log entry %d has stream %q, want %q", i, r.StreamID, ids[i])
		}
	}
}

func testCancelled(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Append(ctx, "cancelled", eventstore.Any, []eventstore.Event{jsonEvent("A", 1)}); err == nil {
		t.Fatal("Append with a cancelled context succeeded")
	}
	if _, err := s.ReadStream(ctxFor(t), "cancelled", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("after a cancelled append ReadStream = %v, want ErrStreamNotFound", err)
	}
}

func testReadStreamDirections(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	var events []eventstore.Event
	for i := 1; i <= 5; i++ {
		events = append(events, jsonEvent("E", i))
	}
	mustAppend(t, s, "dir", eventstore.NoStream, events...)
	cases := []struct {
		from  int64
		dir   eventstore.Direction
		limit int
		want  []int64
	}{
		{0, eventstore.Forward, 0, []int64{1, 2, 3, 4, 5}},
		{1, eventstore.Forward, 2, []int64{1, 2}},
		{3, eventstore.Forward, 0, []int64{3, 4, 5}},
		{4, eventstore.Forward, 10, []int64{4, 5}},
		{6, eventstore.Forward, 0, nil},
		{eventstore.StreamEnd, eventstore.Backward, 0, []int64{5, 4, 3, 2, 1}},
		{eventstore.StreamEnd, eventstore.Backward, 2, []int64{5, 4}},
		{3, eventstore.Backward, 0, []int64{3, 2, 1}},
		{9, eventstore.Backward, 1, []int64{5}},
		{0, eventstore.Backward, 0, nil},
	}
	for _, c := range cases {
		recs, err := s.ReadStream(ctx, "dir", c.from, c.dir, c.limit)
		if err != nil {
			t.Errorf("ReadStream(from %d, dir %d, limit %d) = %v", c.from, c.dir, c.limit, err)
			continue
		}
		var got []int64
		for _, r := range recs {
			got = append(got, r.Version)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ReadStream(from %d, dir %d, limit %d) versions (-want +got):\n%s", c.from, c.dir, c.limit, diff)
		}
	}
}

func testReadStreamNotFound(t *testing.T, cfg Config) {
	s := cfg.New(t)
	for _, dir := range []eventstore.Direction{eventstore.Forward, eventstore.Backward} {
		_, err := s.ReadStream(ctxFor(t), "missing", 0, dir, 0)
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Errorf("ReadStream(missing, dir %d) = %v, want ErrStreamNotFound", dir, err)
		}
	}
}

func testReadAllOrdered(t *testing.T, cfg Config) {
	s := cfg.New(t)
	if recs, err := s.ReadAll(ctxFor(t), eventstore.Position{}, 0); err != nil || len(recs) != 0 {
		t.Fatalf("ReadAll on an empty store = %d records, %v", len(recs), err)
	}
	var appended []eventstore.AppendResult
	for i := 0; i < 12; i++ {
		appended = append(appended, mustAppend(t, s, fmt.Sprintf("s-%d", i%3), eventstore.Any, jsonEvent("E", i)))
	}
	all := readAllUntil(t, cfg, s, 12)
	checkLog(t, all, 12)
	for i, r := range all {
		if r.Position != appended[i].Position {
			t.Errorf("log entry %d at %v, but its append returned %v", i, r.Position, appended[i].Position)
		}
	}
	last := all[len(all)-1].Position
	if rest, err := s.ReadAll(ctxFor(t), last, 0); err != nil || len(rest) != 0 {
		t.Errorf("ReadAll after the last position = %d records, %v; want none", len(rest), err)
	}
}

func testReadAllPaging(t *testing.T, cfg Config) {
	s := cfg.New(t)
	var events []eventstore.Event
	for i := 0; i < 25; i++ {
		events = append(events, jsonEvent("E", i))
	}
	mustAppend(t, s, "paged", eventstore.NoStream, events...)
	all := readAllUntil(t, cfg, s, 25)
	var paged []eventstore.Record
	var after eventstore.Position
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatalf("ReadAll with limit 7 still returns events after %d pages of a log of %d", pages, len(all))
		}
		page, err := s.ReadAll(ctxFor(t), after, 7)
		if err != nil {
			t.Fatalf("ReadAll(%v, 7) = %v", after, err)
		}
		if err := checkPage(after, 7, page); err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Position
	}
	if diff := cmp.Diff(all, paged); diff != "" {
		t.Errorf("paged log differs from the whole log (-whole +paged):\n%s", diff)
	}
}

// testConcurrentAnyOneStream has many writers append to one stream with
// expected version Any: every append succeeds, and the global log lists the
// stream's versions in order.
func testConcurrentAnyOneStream(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	const writers, appends = 12, 25
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < appends; i++ {
				if _, err := s.Append(ctx, "hot-any", eventstore.Any, []eventstore.Event{jsonEvent("Tick", i)}); err != nil {
					t.Errorf("Append(Any) = %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	checkLog(t, readAllUntil(t, cfg, s, writers*appends), writers*appends)
}
