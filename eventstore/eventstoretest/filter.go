package eventstoretest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

// filterTests are the tests of Features.Filtered.
var filterTests = []suiteTest{
	{"ReadAllFiltered/Matches", testFilterMatches},
	{"ReadAllFiltered/NoMatch", testFilterNoMatch},
	{"ReadAllFiltered/TailWhileWriting", testFilterTailWhileWriting},
}

// testFilterTenants reads a log of two tenants, their events interleaved,
// through each tenant's view and the default one: each returns only its
// own tenant's matching events, with Through at its own last event, and
// the all-tenants view returns every tenant's.
func testFilterTenants(t *testing.T, cfg Config) {
	s := cfg.New(t)
	views := map[string]eventstore.Store{"": s}
	for _, tenant := range []string{"acme", "globex"} {
		v, err := eventstore.ForTenant(s, tenant)
		if err != nil {
			t.Fatalf("ForTenant(%q) = %v", tenant, err)
		}
		views[tenant] = v
	}
	last := map[string]eventstore.Position{}
	want := map[string]int{}
	for i := range 12 {
		tenant := []string{"acme", "globex", ""}[i%3]
		typ := "Hit"
		if i%2 == 1 {
			typ = "Miss"
		}
		res := mustAppend(t, views[tenant], fmt.Sprintf("s-%d", i), eventstore.NoStream, jsonEvent(typ, i))
		last[tenant] = res.Position
		if typ == "Hit" {
			want[tenant]++
		}
	}
	// The last event of each tenant's log is a Miss: Through must pass it.
	for tenant, v := range views {
		res := mustAppend(t, v, "tail", eventstore.NoStream, jsonEvent("Miss", 99))
		last[tenant] = res.Position
	}
	f := eventstore.Filter{Types: []string{"Hit"}}
	for tenant, v := range views {
		if _, ok := eventstore.As[eventstore.FilteredReader](v); !ok {
			t.Fatalf("the view of tenant %q (%T) has no filtered reads, but its store has", tenant, v)
		}
		got, through := readFiltered(t, cfg, v, f, 2, want[tenant], last[tenant])
		for _, r := range got {
			if r.Tenant != tenant {
				t.Errorf("tenant %q's filtered read returned event %s of tenant %q", tenant, r.ID, r.Tenant)
			}
		}
		if len(got) != want[tenant] || through != last[tenant] {
			t.Errorf("tenant %q's filtered read returned %d events ending at %v, want %d ending at its last event %v",
				tenant, len(got), through, want[tenant], last[tenant])
		}
	}
	all, err := eventstore.AllTenants(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := eventstore.As[eventstore.FilteredReader](all); !ok {
		t.Fatalf("the all-tenants view (%T) has no filtered reads, but its store has", all)
	}
	total := want[""] + want["acme"] + want["globex"]
	head := last[""]
	for _, p := range last {
		if head.Before(p) {
			head = p
		}
	}
	got, through := readFiltered(t, cfg, all, f, 3, total, head)
	if len(got) != total || through != head {
		t.Errorf("the all-tenants filtered read returned %d events ending at %v, want %d ending at %v", len(got), through, total, head)
	}
}

// checkFilteredPage checks one ReadAllFiltered page: ReadAll's rules for
// its records (checkPage), each record matching f, and Through neither
// before after nor before the last record.
func checkFilteredPage(after eventstore.Position, f eventstore.Filter, limit int, page eventstore.FilteredPage) error {
	if err := checkPage(after, limit, page.Records); err != nil {
		return fmt.Errorf("ReadAllFiltered(%+v): %w", f, err)
	}
	for _, r := range page.Records {
		if !f.Matches(r) {
			return fmt.Errorf("ReadAllFiltered(%v, %+v, %d) returned event %s of type %q in stream %q, which the filter does not match",
				after, f, limit, r.ID, r.Type, r.StreamID)
		}
	}
	if page.Through.Before(after) {
		return fmt.Errorf("ReadAllFiltered(%v, %+v, %d) returned Through %v, before the position asked for", after, f, limit, page.Through)
	}
	if n := len(page.Records); n > 0 && page.Through.Before(page.Records[n-1].Position) {
		return fmt.Errorf("ReadAllFiltered(%v, %+v, %d) returned Through %v, before its last record at %v",
			after, f, limit, page.Through, page.Records[n-1].Position)
	}
	return nil
}

// readFiltered reads the log filtered by f from the start, resuming each
// read after the last page's Through, until Through reaches until and at
// least want records are read, or cfg.Visibility passes.
func readFiltered(t *testing.T, cfg Config, s eventstore.LogReader, f eventstore.Filter, limit, want int, until eventstore.Position) ([]eventstore.Record, eventstore.Position) {
	t.Helper()
	fr, ok := eventstore.As[eventstore.FilteredReader](s)
	if !ok {
		t.Fatalf("%T has no eventstore.FilteredReader", s)
	}
	deadline := time.Now().Add(cfg.Visibility)
	var (
		got   []eventstore.Record
		after eventstore.Position
	)
	for reads := 0; ; reads++ {
		page, err := fr.ReadAllFiltered(ctxFor(t), after, f, limit)
		if err != nil {
			t.Fatalf("ReadAllFiltered(%v, %+v, %d) = %v", after, f, limit, err)
		}
		if err := checkFilteredPage(after, f, limit, page); err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Records...)
		moved := after.Before(page.Through)
		after = page.Through
		if len(got) >= want && !after.Before(until) {
			return got, after
		}
		if time.Now().After(deadline) {
			return got, after
		}
		if reads > 100_000 {
			t.Fatalf("ReadAllFiltered(%+v, %d) still returns pages after 100,000 reads", f, limit)
		}
		if !moved {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// matching returns the records of all that f matches.
func matching(all []eventstore.Record, f eventstore.Filter) []eventstore.Record {
	var out []eventstore.Record
	for _, r := range all {
		if f.Matches(r) {
			out = append(out, r)
		}
	}
	return out
}

// sameEvents reports the first difference between two lists of records
// by event ID and position, or "".
func sameEvents(got, want []eventstore.Record) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("missing event %d (%s of type %q in %q at %v) and %d more", i, want[i].ID, want[i].Type, want[i].StreamID, want[i].Position, len(want)-i-1)
		case i >= len(want):
			return fmt.Sprintf("unexpected event %d (%s of type %q in %q at %v)", i, got[i].ID, got[i].Type, got[i].StreamID, got[i].Position)
		case got[i].ID != want[i].ID || got[i].Position != want[i].Position:
			return fmt.Sprintf("event %d is %s at %v, want %s at %v", i, got[i].ID, got[i].Position, want[i].ID, want[i].Position)
		}
	}
	return ""
}

// testFilterMatches reads a log of several types and stream categories,
// the last events matching no filter, through filters on types, on stream
// prefixes (some holding LIKE's wildcards) and on both, with several
// limits: each read returns exactly the matching events, in log order,
// and its Through reaches the last event of the log.
func testFilterMatches(t *testing.T, cfg Config) {
	s := cfg.New(t)
	streams := []string{"order-1", "user-1", "order-2", "a%_x-1", "abx-1", "order_3"}
	types := []string{"Placed", "Paid", "Shipped"}
	n := 0
	for round := range 4 {
		for i, stream := range streams {
			var events []eventstore.Event
			for j := range 1 + (i+round)%2 {
				events = append(events, jsonEvent(types[(i+j+round)%len(types)], n))
				n++
			}
			mustAppend(t, s, stream, eventstore.Any, events...)
		}
	}
	tail := mustAppend(t, s, "zz-tail", eventstore.NoStream, jsonEvent("Noise", 0), jsonEvent("Noise", 1), jsonEvent("Noise", 2))
	n += 3
	all := readAllUntil(t, cfg, s, n)
	if len(all) != n {
		t.Fatalf("ReadAll returned %d events, want %d", len(all), n)
	}
	filters := []eventstore.Filter{
		{},
		{Types: []string{"Paid"}},
		{Types: []string{"Shipped", "Placed"}},
		{Types: []string{"Paid", "Paid", "Unknown"}},
		{StreamPrefixes: []string{"order-"}},
		{StreamPrefixes: []string{"a%"}},
		{StreamPrefixes: []string{"a%_x-", "user-"}},
		{StreamPrefixes: []string{"order_"}},
		{Types: []string{"Placed", "Shipped"}, StreamPrefixes: []string{"order-", "abx"}},
		{Types: []string{"Unknown"}},
	}
	for _, f := range filters {
		want := matching(all, f)
		for _, limit := range []int{1, 2, 5, 0} {
			got, through := readFiltered(t, cfg, s, f, limit, len(want), tail.Position)
			// Fatal: each further read of a broken store would wait for
			// cfg.Visibility.
			if d := sameEvents(got, want); d != "" {
				t.Fatalf("filter %+v, limit %d: %s", f, limit, d)
			}
			if through != tail.Position {
				t.Fatalf("filter %+v, limit %d: the last page's Through is %v, want the log's last position %v", f, limit, through, tail.Position)
			}
		}
	}
}

// testFilterNoMatch reads a log where nothing matches: the read returns at
// once with no records and Through at the last event, so a reader's
// checkpoint moves on; a read from there returns nothing and stays; an
// event that matches, appended next, is read from there.
func testFilterNoMatch(t *testing.T, cfg Config) {
	s := cfg.New(t)
	fr := capability[eventstore.FilteredReader](t, s)
	var last eventstore.AppendResult
	for i := range 5 {
		last = mustAppend(t, s, fmt.Sprintf("other-%d", i), eventstore.NoStream, jsonEvent("Other", i), jsonEvent("Other", i+1))
	}
	f := eventstore.Filter{Types: []string{"Wanted"}}
	got, through := readFiltered(t, cfg, s, f, 3, 0, last.Position)
	if len(got) != 0 || through != last.Position {
		t.Fatalf("a filtered read of a log with no match returned %d records and Through %v, want none and %v", len(got), through, last.Position)
	}
	page, err := fr.ReadAllFiltered(ctxFor(t), through, f, 3)
	if err != nil || len(page.Records) != 0 || page.Through != through {
		t.Fatalf("ReadAllFiltered from the last position = %d records, Through %v, %v; want none, %v", len(page.Records), page.Through, err, through)
	}
	want := mustAppend(t, s, "wanted-1", eventstore.NoStream, jsonEvent("Wanted", 0))
	more, end := readFiltered(t, cfg, s, f, 3, 1, want.Position)
	if len(more) != 1 || more[0].Position != want.Position || end != want.Position {
		t.Fatalf("after appending a matching event, the read from %v returned %d records ending at %v; want the event at %v", through, len(more), end, want.Position)
	}
	got, _ = readFiltered(t, cfg, s, f, 0, 1, want.Position)
	if len(got) != 1 || got[0].Position != want.Position {
		t.Errorf("the filtered read from the start returned %d records, want the one at %v", len(got), want.Position)
	}
}

// testFilterTailWhileWriting has filtered tailers with small limits, each
// resuming after the last page's Through as a checkpoint would, read while
// writers append matching and non-matching events: each sees every
// matching event exactly once, in log order.
func testFilterTailWhileWriting(t *testing.T, cfg Config) {
	s := cfg.New(t)
	fr := capability[eventstore.FilteredReader](t, s)
	ctx := ctxFor(t)
	const writers, appends = 4, 15
	wantHits, total := 0, 0
	for w := range writers {
		for i := range appends {
			if (w+i)%3 == 0 {
				wantHits++
				total++
			} else {
				total += 2
			}
		}
	}
	errs := make(chan error, 2*writers+8)
	var writing sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			for i := range appends {
				stream, typ := fmt.Sprintf("miss-%d", w), "Miss"
				if (w+i)%3 == 0 {
					stream, typ = fmt.Sprintf("hit-%d", w), "Hit"
				}
				events := []eventstore.Event{jsonEvent(typ, i)}
				if typ == "Miss" {
					events = append(events, jsonEvent(typ, i+1))
				}
				if _, err := s.Append(ctx, stream, eventstore.Any, events); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	filters := []eventstore.Filter{
		{Types: []string{"Hit"}},
		{Types: []string{"Hit"}},
		{StreamPrefixes: []string{"hit-"}},
		{Types: []string{"Hit", "Nothing"}, StreamPrefixes: []string{"hit-"}},
	}
	limits := []int{1, 2, 3, 2}
	tailed := make([][]eventstore.Record, len(filters))
	writersDone := make(chan struct{})
	var reading sync.WaitGroup
	for i, f := range filters {
		reading.Go(func() {
			var err error
			tailed[i], err = tailFiltered(ctx, fr, f, limits[i], wantHits, writersDone, cfg.Visibility)
			if err != nil {
				errs <- err
			}
		})
	}
	writing.Wait()
	close(writersDone)
	reading.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	all := readAllUntil(t, cfg, s, total)
	for i, f := range filters {
		want := matching(all, f)
		if len(want) != wantHits {
			t.Fatalf("the log holds %d events matching %+v, want %d", len(want), f, wantHits)
		}
		if d := sameEvents(tailed[i], want); d != "" {
			t.Errorf("tailer of %+v with limit %d: %s", f, limits[i], d)
		}
	}
}

// tailFiltered reads the log filtered by f until it has total records, or
// until the writers are done and visibility has passed, resuming each read
// after the last page's Through.
func tailFiltered(ctx context.Context, fr eventstore.FilteredReader, f eventstore.Filter, limit, total int, writersDone <-chan struct{}, visibility time.Duration) ([]eventstore.Record, error) {
	var (
		got      []eventstore.Record
		after    eventstore.Position
		deadline time.Time
	)
	for len(got) < total {
		page, err := fr.ReadAllFiltered(ctx, after, f, limit)
		if err != nil {
			return got, fmt.Errorf("ReadAllFiltered(%v, %+v, %d) = %w", after, f, limit, err)
		}
		if err := checkFilteredPage(after, f, limit, page); err != nil {
			return got, err
		}
		got = append(got, page.Records...)
		moved := after.Before(page.Through)
		after = page.Through
		if moved {
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

// testFilterHeldAppend holds a matching append open while later appends,
// matching and not, commit: a filtered reader that checkpoints each
// page's Through never passes the held event, and reads it once it
// commits, before the later matching one.
func testFilterHeldAppend(t *testing.T, cfg Config) {
	s := cfg.New(t)
	fr := capability[eventstore.FilteredReader](t, s)
	f := eventstore.Filter{Types: []string{"Hit"}}
	before := mustAppend(t, s, "before", eventstore.NoStream, jsonEvent("Hit", 0))
	held, commit := cfg.HoldAppend(t, s, "slow", []eventstore.Event{jsonEvent("Hit", 1)})
	committed := false
	defer func() {
		if !committed {
			commit()
		}
	}()
	mustAppend(t, s, "fast-miss", eventstore.NoStream, jsonEvent("Miss", 2), jsonEvent("Miss", 3))
	fast := mustAppend(t, s, "fast-hit", eventstore.NoStream, jsonEvent("Hit", 4))
	mustAppend(t, s, "fast-miss-2", eventstore.NoStream, jsonEvent("Miss", 5))
	if !before.Position.Before(held.Position) || !held.Position.Before(fast.Position) {
		t.Fatalf("positions before %v, held %v, fast %v are not in append order", before.Position, held.Position, fast.Position)
	}

	// While the slow append is open the reader reaches the event before
	// it, and never its position or anything after.
	checkpoint, got := readPastHeld(t, cfg, fr, f, before.Position, held.Position)
	commit()
	committed = true
	deadline := time.Now().Add(cfg.Visibility)
	for len(got) < 3 && time.Now().Before(deadline) {
		page, err := fr.ReadAllFiltered(ctxFor(t), checkpoint, f, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkFilteredPage(checkpoint, f, 1, page); err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Records...)
		if !checkpoint.Before(page.Through) {
			time.Sleep(10 * time.Millisecond)
		}
		checkpoint = page.Through
	}
	var positions []eventstore.Position
	for _, r := range got {
		positions = append(positions, r.Position)
	}
	want := []eventstore.Position{before.Position, held.Position, fast.Position}
	if fmt.Sprint(positions) != fmt.Sprint(want) {
		t.Errorf("the reader that checkpointed Through read %v, want %v (the event before, the held one, the later one)", positions, want)
	}
}

// readPastHeld reads the filtered log for a while as a checkpointing
// reader does, until it has the event at reach and then some more reads,
// and fails if a record or Through reaches held. It returns the
// checkpoint and the records.
func readPastHeld(t *testing.T, cfg Config, fr eventstore.FilteredReader, f eventstore.Filter, reach, held eventstore.Position) (eventstore.Position, []eventstore.Record) {
	t.Helper()
	var (
		checkpoint eventstore.Position
		got        []eventstore.Record
	)
	deadline := time.Now().Add(cfg.Visibility)
	extra := 0
	for _, limit := range []int{1, 0} {
		for extra < 20 {
			page, err := fr.ReadAllFiltered(ctxFor(t), checkpoint, f, limit)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkFilteredPage(checkpoint, f, limit, page); err != nil {
				t.Fatal(err)
			}
			if !page.Through.Before(held) {
				t.Fatalf("while an append at %v is open, ReadAllFiltered(%v, %+v, %d) returned Through %v: a reader checkpointing it would skip that event",
					held, checkpoint, f, limit, page.Through)
			}
			got = append(got, page.Records...)
			checkpoint = page.Through
			if !checkpoint.Before(reach) {
				extra++
			} else if time.Now().After(deadline) {
				t.Fatalf("the filtered reader did not reach %v within %v", reach, cfg.Visibility)
			}
			time.Sleep(time.Millisecond)
		}
		extra = 0
	}
	return checkpoint, got
}
