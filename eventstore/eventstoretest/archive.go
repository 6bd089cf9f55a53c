package eventstoretest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
)

// archiveTests check eventstore.StreamArchiver. They run when
// Features.Archive is declared.
var archiveTests = []suiteTest{
	{"Archive/Seals", testArchiveSeals},
	{"Archive/Refusals", testArchiveRefusals},
	{"Archive/HardDeleteErasesArchive", testArchiveHardDelete},
	{"Archive/RacesAppends", testArchiveRace},
}

func archiverOf(t *testing.T, s eventstore.Store) eventstore.StreamArchiver {
	t.Helper()
	a, err := eventstore.Archiver(s)
	if err != nil {
		t.Fatalf("Features.Archive is declared but %v", err)
	}
	return a
}

// describeVersions lists records as stream, type and version, for
// comparisons.
func describeVersions(recs []eventstore.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%s %s@%d", r.StreamID, r.Type, r.Version)
	}
	return out
}

// An archived stream's events leave ReadAll for the archive, which reads
// them as they were recorded; its marker stays in the log; the stream
// takes no more appends and ReadStream reports it archived.
func testArchiveSeals(t *testing.T, cfg Config) {
	s := cfg.New(t)
	a := archiverOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "keep", eventstore.NoStream, jsonEvent("K", 1))
	mustAppend(t, s, "done", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("B", 2))
	mustAppend(t, s, "keep", eventstore.Exact(1), jsonEvent("K", 2))
	before := readAllUntil(t, cfg, s, 4)
	pos, err := a.ArchiveStream(ctx, "done", eventstore.Exact(2))
	if err != nil {
		t.Fatalf("ArchiveStream = %v", err)
	}

	all := readAllUntil(t, cfg, s, 3)
	if got, want := describeVersions(all), []string{"keep K@1", "keep K@2", "done " + eventstore.StreamArchivedType + "@3"}; !cmp.Equal(got, want) {
		t.Fatalf("log after the archive = %q, want %q (the stream's events archived, its marker last)", got, want)
	}
	marker := all[2]
	e, ok := eventstore.LifecycleEventOf(marker)
	want := eventstore.LifecycleEvent{StreamID: "done", Type: eventstore.StreamArchivedType, Version: 2, Before: 4}
	if !ok || e != want || !e.Archived() || marker.Position != pos {
		t.Errorf("marker = %+v (%v) at %v; want %+v at %v", e, ok, marker.Position, want, pos)
	}

	got, err := a.ReadArchivedStream(ctx, "done", 0, 0)
	if err != nil {
		t.Fatalf("ReadArchivedStream = %v", err)
	}
	var wantRecs []eventstore.Record
	for _, r := range before {
		if r.StreamID == "done" {
			wantRecs = append(wantRecs, r)
		}
	}
	if diff := cmp.Diff(wantRecs, got); diff != "" {
		t.Errorf("ReadArchivedStream differs from the records ReadAll returned before the archive (-want +got):\n%s", diff)
	}
	if got, err := a.ReadArchivedStream(ctx, "done", 2, 1); err != nil || !cmp.Equal(versionsOf(got), []int64{2}) {
		t.Errorf("ReadArchivedStream(from 2, limit 1) = versions %v, %v; want [2]", versionsOf(got), err)
	}

	for _, dir := range []eventstore.Direction{eventstore.Forward, eventstore.Backward} {
		from := int64(0)
		if dir == eventstore.Backward {
			from = eventstore.StreamEnd
		}
		if _, err := s.ReadStream(ctx, "done", from, dir, 0); !errors.Is(err, eventstore.ErrStreamArchived) {
			t.Errorf("ReadStream(%v) of an archived stream = %v, want ErrStreamArchived", dir, err)
		}
	}
	for _, exp := range []eventstore.ExpectedVersion{eventstore.Any, eventstore.NoStream, eventstore.StreamExists, eventstore.Exact(2), eventstore.Exact(3)} {
		if _, err := s.Append(ctx, "done", exp, []eventstore.Event{jsonEvent("C", 3)}); !errors.Is(err, eventstore.ErrStreamArchived) {
			t.Errorf("Append(%v) to an archived stream = %v, want ErrStreamArchived", exp, err)
		}
	}
	if k, ok := eventstore.As[eventstore.KeyedAppender](s); ok {
		if _, err := k.AppendKeyed(ctx, "cmd-1", "done", eventstore.Any, []eventstore.Event{jsonEvent("C", 3)}); !errors.Is(err, eventstore.ErrStreamArchived) {
			t.Errorf("AppendKeyed to an archived stream = %v, want ErrStreamArchived", err)
		}
	}
	if _, err := a.ArchiveStream(ctx, "done", eventstore.Any); !errors.Is(err, eventstore.ErrStreamArchived) {
		t.Errorf("second ArchiveStream = %v, want ErrStreamArchived", err)
	}
	if got := versionsOf(readStream(t, s, "keep")); !cmp.Equal(got, []int64{1, 2}) {
		t.Errorf("the other stream reads versions %v after the archive, want [1 2]", got)
	}
	if _, err := a.ReadArchivedStream(ctx, "keep", 0, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("ReadArchivedStream of a stream not archived = %v, want ErrStreamNotFound", err)
	}
}

// ArchiveStream checks where the stream is and refuses streams without
// readable events, tombstoned ones and bad arguments, changing nothing.
func testArchiveRefusals(t *testing.T, cfg Config) {
	s := cfg.New(t)
	a, l := archiverOf(t, s), lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "s", eventstore.NoStream, jsonEvent("A", 1), jsonEvent("B", 2))
	var ce *eventstore.ConcurrencyError
	for _, exp := range []eventstore.ExpectedVersion{eventstore.Exact(1), eventstore.NoStream} {
		if _, err := a.ArchiveStream(ctx, "s", exp); !errors.As(err, &ce) || ce.Actual != 2 {
			t.Errorf("ArchiveStream(%v) of a stream at 2 = %v, want a *ConcurrencyError at 2", exp, err)
		}
	}
	if got := versionsOf(readStream(t, s, "s")); !cmp.Equal(got, []int64{1, 2}) {
		t.Errorf("stream after refused archives reads versions %v, want [1 2]", got)
	}
	if _, err := a.ArchiveStream(ctx, "never", eventstore.Any); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("ArchiveStream of a stream that never existed = %v, want ErrStreamNotFound", err)
	}
	mustAppend(t, s, "soft", eventstore.NoStream, jsonEvent("A", 1))
	if _, err := l.DeleteStream(ctx, "soft", eventstore.Any, eventstore.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ArchiveStream(ctx, "soft", eventstore.Any); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("ArchiveStream of a soft-deleted stream = %v, want ErrStreamNotFound", err)
	}
	if _, err := l.DeleteStream(ctx, "hard", eventstore.Any, eventstore.HardDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ArchiveStream(ctx, "hard", eventstore.Any); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("ArchiveStream of a tombstoned stream = %v, want ErrStreamDeleted", err)
	}
	if _, err := a.ArchiveStream(ctx, "", eventstore.Any); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ArchiveStream with no stream ID = %v, want ErrInvalidInput", err)
	}
	if _, err := a.ReadArchivedStream(ctx, "s", 0, -1); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ReadArchivedStream with a negative limit = %v, want ErrInvalidInput", err)
	}
	// A soft-deleted stream recreated is archived with its whole history.
	mustAppend(t, s, "soft", eventstore.NoStream, jsonEvent("C", 3))
	if _, err := a.ArchiveStream(ctx, "soft", eventstore.StreamExists); err != nil {
		t.Fatalf("ArchiveStream of a recreated stream = %v", err)
	}
	got, err := a.ReadArchivedStream(ctx, "soft", 0, 0)
	if err != nil || !cmp.Equal(versionsOf(got), []int64{1, 2, 3}) {
		t.Errorf("ReadArchivedStream of a recreated stream = versions %v, %v; want [1 2 3]", versionsOf(got), err)
	}
}

// An archived stream has no readable events to soft-delete or truncate; a
// hard delete erases its archive and, as any hard delete does, its marker.
func testArchiveHardDelete(t *testing.T, cfg Config) {
	s := cfg.New(t)
	a, l := archiverOf(t, s), lifecycleOf(t, s)
	ctx := ctxFor(t)
	mustAppend(t, s, "s", eventstore.NoStream, jsonEvent("A", 1))
	if _, err := a.ArchiveStream(ctx, "s", eventstore.StreamExists); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteStream(ctx, "s", eventstore.Any, eventstore.SoftDelete); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("soft delete of an archived stream = %v, want ErrStreamNotFound (it has no readable events)", err)
	}
	if _, err := l.TruncateStream(ctx, "s", 1); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("truncation of an archived stream = %v, want ErrStreamNotFound (it has no readable events)", err)
	}
	if _, err := l.DeleteStream(ctx, "s", eventstore.Any, eventstore.HardDelete); err != nil {
		t.Fatalf("hard delete of an archived stream = %v", err)
	}
	if _, err := a.ReadArchivedStream(ctx, "s", 0, 0); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("ReadArchivedStream after a hard delete = %v, want ErrStreamDeleted", err)
	}
	if _, err := s.Append(ctx, "s", eventstore.Any, []eventstore.Event{jsonEvent("B", 2)}); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("Append after a hard delete of an archived stream = %v, want ErrStreamDeleted", err)
	}
	recs, desc := streamInLog(t, cfg, s, "s")
	if len(recs) != 1 || recs[0].Type != eventstore.StreamTombstoneType {
		t.Errorf("stream's records in the log = %q, want its tombstone alone, as after any hard delete", desc)
	}
}

// Appends racing an archive either land before its marker, and are
// archived with the rest, or fail: none is stored after it, none is lost.
func testArchiveRace(t *testing.T, cfg Config) {
	s := cfg.New(t)
	a := archiverOf(t, s)
	mustAppend(t, s, "hot", eventstore.NoStream, jsonEvent("A", 1))
	wait := raceAppends(t, s, "hot")
	if _, err := a.ArchiveStream(ctxFor(t), "hot", eventstore.Any); err != nil {
		t.Errorf("ArchiveStream during appends = %v", err)
	}
	appended := wait()
	recs, desc := streamInLog(t, cfg, s, "hot")
	if len(recs) != 1 || recs[0].Type != eventstore.StreamArchivedType {
		t.Fatalf("stream's records in the log = %q, want the archive marker alone", desc)
	}
	archived, err := a.ReadArchivedStream(ctxFor(t), "hot", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, recs[0].Version-1)
	for i := range want {
		want[i] = int64(i) + 1
	}
	if got := versionsOf(archived); !cmp.Equal(got, want) {
		t.Errorf("archived versions = %v, want %v: every version below the marker's", got, want)
	}
	for _, v := range appended {
		if !slices.Contains(want, v) {
			t.Errorf("an append succeeded at version %d, which the archive (up to %d) does not hold", v, len(want))
		}
	}
	if _, err := s.Append(ctxFor(t), "hot", eventstore.Any, []eventstore.Event{jsonEvent("C", 0)}); !errors.Is(err, eventstore.ErrStreamArchived) {
		t.Errorf("Append after the race = %v, want ErrStreamArchived", err)
	}
}

// A tenant archives its own streams only, and reads only its own archive.
func testArchiveTenants(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := ctxFor(t)
	ta, tb := forTenant(t, cfg, s, "tenant-a"), forTenant(t, cfg, s, "tenant-b")
	aa, ab := archiverOf(t, ta), archiverOf(t, tb)
	mustAppend(t, ta, "shared", eventstore.NoStream, jsonEvent("A", 1))
	mustAppend(t, tb, "shared", eventstore.NoStream, jsonEvent("B", 1), jsonEvent("B", 2))
	mustAppend(t, tb, "only-b", eventstore.NoStream, jsonEvent("B", 3))

	if _, err := aa.ArchiveStream(ctx, "only-b", eventstore.Any); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("tenant a archiving b's stream = %v, want ErrStreamNotFound", err)
	}
	if _, err := aa.ArchiveStream(ctx, "shared", eventstore.Exact(1)); err != nil {
		t.Fatalf("tenant a archiving its stream = %v", err)
	}
	if got := versionsOf(readStream(t, tb, "shared")); !cmp.Equal(got, []int64{1, 2}) {
		t.Errorf("b's stream after a's archive of the same ID reads %v, want [1 2]", got)
	}
	mustAppend(t, tb, "shared", eventstore.Exact(2), jsonEvent("B", 4))
	if _, err := ab.ReadArchivedStream(ctx, "shared", 0, 0); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("tenant b reading a's archive = %v, want ErrStreamNotFound", err)
	}
	if got, err := aa.ReadArchivedStream(ctx, "shared", 0, 0); err != nil || len(got) != 1 || got[0].Tenant != "tenant-a" {
		t.Errorf("tenant a's archive = %+v, %v; want its one event", got, err)
	}
	if got := describeVersions(readAllUntil(t, cfg, ta, 1)); !cmp.Equal(got, []string{"shared " + eventstore.StreamArchivedType + "@2"}) {
		t.Errorf("tenant a's log = %q, want its archive marker alone", got)
	}
	if got := describeVersions(readAllUntil(t, cfg, tb, 4)); len(got) != 4 || slices.Contains(got, "shared "+eventstore.StreamArchivedType+"@2") {
		t.Errorf("tenant b's log = %q, want its four events and no marker", got)
	}
}
