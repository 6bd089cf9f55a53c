package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// shardSchema is one shard in a schema of the shared server: a store, its
// snapshots and its keys.
type shardSchema struct {
	store *pgstore.Store
	snaps *pgstore.Snapshots
	keys  *pgstore.Keys
}

func newShardSchema(t *testing.T) shardSchema {
	t.Helper()
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	return shardSchema{store: s, snaps: pgstore.NewSnapshots(pool, opts), keys: pgstore.NewKeys(pool, opts)}
}

// A copy carries every row of the tenant: events with their IDs, versions
// and metadata in log order, command keys (outcomes and refusals) pointing
// at the copied events, snapshots and subject keys. Nothing of another
// tenant goes along.
func TestCopyTenant(t *testing.T) {
	ctx := t.Context()
	src, dst := newShardSchema(t), newShardSchema(t)
	acme, _ := src.store.ForTenant("acme")
	globex, _ := src.store.ForTenant("globex")
	placed := eventstore.Event{ID: eventstore.NewEventID(), Type: "Placed", Data: []byte(`{"n":1}`),
		Metadata: eventstore.Metadata{CorrelationID: "c-1", CausationID: "cmd-1"}}
	key := eventstore.CommandKey{Key: "cmd-1", Hash: "h1"}
	if _, err := acme.AppendCommand(ctx, key, "order-1", eventstore.NoStream, []eventstore.Event{placed, oneEvent(2)[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.Append(ctx, "order-2", eventstore.NoStream, oneEvent(3)); err != nil {
		t.Fatal(err)
	}
	refused := eventstore.Refusal{Code: "out_of_stock", Message: "no stock"}
	if _, err := acme.RecordRefusal(ctx, eventstore.CommandKey{Key: "cmd-2", Hash: "h2"}, "order-3", refused); err != nil {
		t.Fatal(err)
	}
	if _, err := globex.Append(ctx, "order-1", eventstore.NoStream, oneEvent(4)); err != nil {
		t.Fatal(err)
	}
	acmeSnaps, _ := src.snaps.ForTenant("acme")
	snap := command.Snapshot{StreamID: "order-1", Version: 2, SchemaVersion: 1, State: []byte(`{"s":1}`)}
	if err := acmeSnaps.Save(ctx, snap); err != nil {
		t.Fatal(err)
	}
	acmeKeys, _ := src.keys.ForTenant("acme")
	subjectKey, err := acmeKeys.Key(ctx, "subject-1")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := pgstore.CopyTenant(ctx, src.store, dst.store, "acme"); err == nil {
		t.Fatal("an unfenced tenant was copied")
	}
	if err := pgstore.FenceTenant(ctx, src.store, "acme"); err != nil {
		t.Fatal(err)
	}
	rep, err := pgstore.CopyTenant(ctx, src.store, dst.store, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"events": 3, "streams": 2, "stream_lifecycle": 0, "command_keys": 2, "snapshots": 1, "subject_keys": 1, "events_archive": 0}
	if diff := cmp.Diff(want, rep.Rows); diff != "" {
		t.Errorf("rows copied (-want +got):\n%s", diff)
	}

	moved, _ := dst.store.ForTenant("acme")
	// A log shows an append once every older transaction on the server
	// (other tests') has ended.
	var srcLog, dstLog []eventstore.Record
	testenv.Eventually(t, 30*time.Second, func() bool {
		srcLog, dstLog = readTenantLog(t, acme), readTenantLog(t, moved)
		return len(srcLog) == 3 && len(dstLog) == 3
	}, "the logs of acme do not show its 3 events on both shards")
	for i := range srcLog {
		s, d := srcLog[i], dstLog[i]
		if s.ID != d.ID || s.StreamID != d.StreamID || s.Version != d.Version || s.Type != d.Type ||
			string(s.Data) != string(d.Data) || !cmp.Equal(s.Metadata, d.Metadata) || !s.RecordedAt.Equal(d.RecordedAt) {
			t.Errorf("event %d: source %+v, target %+v", i, s, d)
		}
	}
	if other, _ := dst.store.ForTenant("globex"); len(readTenantLog(t, other)) != 0 {
		t.Error("globex's events were copied with acme's")
	}
	rec, ok, err := moved.LookupKey(ctx, "cmd-1")
	if err != nil || !ok || rec.Hash != "h1" || rec.Result.Position != dstLog[1].Position || rec.Result.StreamVersion != 2 {
		t.Errorf("command key cmd-1 on the target: %+v, %v, %v; want the position of its last event %v", rec, ok, err, dstLog[1].Position)
	}
	replay, err := moved.AppendCommand(ctx, key, "order-1", eventstore.NoStream, []eventstore.Event{placed, oneEvent(2)[0]})
	if err != nil || !replay.Result.Replayed || replay.Result.Position != dstLog[1].Position {
		t.Errorf("the command run again on the target: %+v, %v", replay, err)
	}
	rec, ok, err = moved.LookupKey(ctx, "cmd-2")
	if err != nil || !ok || rec.Refusal == nil || *rec.Refusal != refused {
		t.Errorf("refusal cmd-2 on the target: %+v, %v, %v", rec, ok, err)
	}
	dstSnaps, _ := dst.snaps.ForTenant("acme")
	if got, err := dstSnaps.Load(ctx, "order-1"); err != nil || got.Version != 2 || string(got.State) != string(snap.State) {
		t.Errorf("snapshot on the target: %+v, %v", got, err)
	}
	dstKeys, _ := dst.keys.ForTenant("acme")
	if got, ok, err := dstKeys.Lookup(ctx, "subject-1"); err != nil || !ok || string(got) != string(subjectKey) {
		t.Errorf("subject key on the target: %v, %v (want the source's key)", ok, err)
	}

	again, err := pgstore.CopyTenant(ctx, src.store, dst.store, "acme")
	if err != nil || !again.AlreadyCopied {
		t.Errorf("a second copy: %+v, %v; want AlreadyCopied", again, err)
	}
	if _, err := moved.Append(ctx, "order-2", eventstore.Any, oneEvent(5)); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.CopyTenant(ctx, src.store, dst.store, "acme"); !errors.Is(err, pgstore.ErrTenantOnTarget) {
		t.Errorf("a copy onto a target that moved on: %v, want ErrTenantOnTarget", err)
	}
}

// A fenced tenant's writes fail on the shard, whatever writes them, and
// the other tenants' go on; lifting the fence lets them through again.
func TestFenceTenant(t *testing.T) {
	ctx := t.Context()
	s := newShardSchema(t)
	acme, _ := s.store.ForTenant("acme")
	globex, _ := s.store.ForTenant("globex")
	if _, err := acme.Append(ctx, "x", eventstore.NoStream, oneEvent(1)); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.FenceTenant(ctx, s.store, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.FenceTenant(ctx, s.store, "acme"); err != nil {
		t.Fatalf("fencing twice: %v", err)
	}
	if _, err := acme.Append(ctx, "x", eventstore.Any, oneEvent(2)); !errors.Is(err, eventstore.ErrTenantFenced) {
		t.Errorf("append to a fenced tenant: %v, want ErrTenantFenced", err)
	}
	if _, err := acme.AppendKeyed(ctx, "k", "y", eventstore.NoStream, oneEvent(3)); !errors.Is(err, eventstore.ErrTenantFenced) {
		t.Errorf("keyed append to a fenced tenant: %v, want ErrTenantFenced", err)
	}
	snaps, _ := s.snaps.ForTenant("acme")
	if err := snaps.Save(ctx, command.Snapshot{StreamID: "x", Version: 1, SchemaVersion: 1, State: []byte(`{}`)}); !pgstore.IsFenced(err) {
		t.Errorf("snapshot of a fenced tenant: %v, want a fenced error", err)
	}
	keys, _ := s.keys.ForTenant("acme")
	if _, err := keys.Key(ctx, "subject"); !pgstore.IsFenced(err) {
		t.Errorf("new subject key of a fenced tenant: %v, want a fenced error", err)
	}
	if recs, err := acme.ReadStream(ctx, "x", 0, eventstore.Forward, 0); err != nil || len(recs) != 1 {
		t.Errorf("reading a fenced tenant: %d events, %v", len(recs), err)
	}
	if _, err := globex.Append(ctx, "x", eventstore.NoStream, oneEvent(4)); err != nil {
		t.Errorf("another tenant's append: %v", err)
	}
	if fenced, err := pgstore.Fenced(ctx, s.store, "acme"); err != nil || !fenced {
		t.Errorf("Fenced = %v, %v", fenced, err)
	}
	if err := pgstore.UnfenceTenant(ctx, s.store, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.Append(ctx, "x", eventstore.Any, oneEvent(5)); err != nil {
		t.Errorf("append after the fence is lifted: %v", err)
	}
}

// The map in PostgreSQL: the fallback for unnamed tenants, Assign, and a
// move that flips it once and is a no-op the second time.
func TestShardMapAndMove(t *testing.T) {
	ctx := t.Context()
	src, dst := newShardSchema(t), newShardSchema(t)
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(ctx, pool, opts); err != nil {
		t.Fatal(err)
	}
	m, err := pgstore.NewShardMap(pool, "east", opts)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := m.ShardOf(ctx, "acme"); err != nil || s != "east" {
		t.Fatalf("unassigned tenant: %q, %v", s, err)
	}
	acme, _ := src.store.ForTenant("acme")
	if _, err := acme.Append(ctx, "x", eventstore.NoStream, oneEvent(1)); err != nil {
		t.Fatal(err)
	}
	rep, err := pgstore.MoveTenant(ctx, "acme", src.store, dst.store, m, "west")
	if err != nil || rep.Rows["events"] != 1 {
		t.Fatalf("move: %+v, %v", rep, err)
	}
	if s, _ := m.ShardOf(ctx, "acme"); s != "west" {
		t.Errorf("after the move acme is on %q", s)
	}
	if rep, err := pgstore.MoveTenant(ctx, "acme", src.store, dst.store, m, "west"); err != nil || !rep.AlreadyMoved {
		t.Errorf("moving again: %+v, %v; want AlreadyMoved", rep, err)
	}
	shards, _ := eventstore.NewShards(map[string]eventstore.Store{"east": src.store, "west": dst.store}, m)
	if res, err := shards.Append(ctx, "acme", "x", eventstore.Exact(1), oneEvent(2)); err != nil || res.StreamVersion != 2 {
		t.Errorf("append through the router after the move: %+v, %v", res, err)
	}
}

func readTenantLog(t *testing.T, s *pgstore.Store) []eventstore.Record {
	t.Helper()
	var out []eventstore.Record
	var after eventstore.Position
	for {
		recs, err := s.ReadAll(context.Background(), after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
		after = recs[len(recs)-1].Position
	}
}

// TestCopyTenantKeepsStreamLifecycle moves a tenant with a hard-deleted,
// a truncated and a retained stream: on the target the tombstone still
// refuses appends, and truncation and retention still apply.
func TestCopyTenantKeepsStreamLifecycle(t *testing.T) {
	ctx := t.Context()
	src, dst := newShardSchema(t), newShardSchema(t)
	acme, _ := src.store.ForTenant("acme")
	for _, id := range []string{"gone", "cut", "kept"} {
		if _, err := acme.Append(ctx, id, eventstore.NoStream, append(oneEvent(1), oneEvent(2)...)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := acme.DeleteStream(ctx, "gone", eventstore.Any, eventstore.HardDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.TruncateStream(ctx, "cut", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.SetStreamMetadata(ctx, "kept", eventstore.StreamMetadata{MaxCount: 1}); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.FenceTenant(ctx, src.store, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.CopyTenant(ctx, src.store, dst.store, "acme"); err != nil {
		t.Fatal(err)
	}
	moved, _ := dst.store.ForTenant("acme")
	if _, err := moved.Append(ctx, "gone", eventstore.Any, oneEvent(3)); !errors.Is(err, eventstore.ErrStreamDeleted) {
		t.Errorf("append to a hard-deleted stream on the target = %v, want ErrStreamDeleted", err)
	}
	for id, want := range map[string]int{"cut": 1, "kept": 1} {
		recs, err := moved.ReadStream(ctx, id, 0, eventstore.Forward, 0)
		if err != nil || len(recs) != want {
			t.Errorf("ReadStream(%q) on the target = %d events, %v; want %d, as on the source", id, len(recs), err, want)
		}
	}
	if md, err := moved.ReadStreamMetadata(ctx, "kept"); err != nil || md.MaxCount != 1 {
		t.Errorf("metadata of kept on the target = %+v, %v; want MaxCount 1", md, err)
	}
}

// A moved tenant keeps its archive: the archived stream stays sealed on the
// target and its archive reads the same events, and a fenced tenant cannot
// archive on the source.
func TestCopyTenantKeepsArchive(t *testing.T) {
	ctx := t.Context()
	src, dst := newShardSchema(t), newShardSchema(t)
	acme, _ := src.store.ForTenant("acme")
	for _, id := range []string{"done", "open"} {
		if _, err := acme.Append(ctx, id, eventstore.NoStream, append(oneEvent(1), oneEvent(2)...)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := acme.ArchiveStream(ctx, "done", eventstore.Exact(2)); err != nil {
		t.Fatal(err)
	}
	archived, err := acme.ReadArchivedStream(ctx, "done", 0, 0)
	if err != nil || len(archived) != 2 {
		t.Fatalf("archive on the source = %d events, %v", len(archived), err)
	}
	if err := pgstore.FenceTenant(ctx, src.store, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.ArchiveStream(ctx, "open", eventstore.Any); !errors.Is(err, eventstore.ErrTenantFenced) && !pgstore.IsFenced(err) {
		t.Errorf("archive of a fenced tenant's stream = %v, want the fence's error", err)
	}
	rep, err := pgstore.CopyTenant(ctx, src.store, dst.store, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows["events_archive"] != 2 {
		t.Errorf("copied %d archived events, want 2 (report %+v)", rep.Rows["events_archive"], rep.Rows)
	}
	moved, _ := dst.store.ForTenant("acme")
	got, err := moved.ReadArchivedStream(ctx, "done", 0, 0)
	if err != nil {
		t.Fatalf("ReadArchivedStream on the target = %v", err)
	}
	if diff := cmp.Diff(archived, got); diff != "" {
		t.Errorf("archive on the target differs from the source's (-source +target):\n%s", diff)
	}
	if _, err := moved.Append(ctx, "done", eventstore.Any, oneEvent(3)); !errors.Is(err, eventstore.ErrStreamArchived) {
		t.Errorf("append to an archived stream on the target = %v, want ErrStreamArchived", err)
	}
	if _, err := moved.ReadStream(ctx, "done", 0, eventstore.Forward, 0); !errors.Is(err, eventstore.ErrStreamArchived) {
		t.Errorf("ReadStream of an archived stream on the target = %v, want ErrStreamArchived", err)
	}
	if _, err := moved.ArchiveStream(ctx, "open", eventstore.Exact(2)); err != nil {
		t.Errorf("archive on the target = %v", err)
	}
}
