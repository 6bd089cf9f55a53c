package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/eventstore/eventstoretest"
	"github.com/eventfold/eventfold/internal/testenv"
)

// The suite, lifecycle included, passes under row-level security too, as
// the application role: the lifecycle functions and stream_lifecycle
// respect the policies.
func TestLifecycleUnderRowLevelSecurity(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Config{
		New: func(t testing.TB) eventstore.Store {
			_, app, schema := applicationRole(t.(*testing.T), 0)
			s, err := pgstore.New(app, &pgstore.Options{Schema: schema, RowLevelSecurity: true})
			if err != nil {
				t.Fatal(err)
			}
			v, err := s.ForTenant("rls-default")
			if err != nil {
				t.Fatal(err)
			}
			// One tenant's view, without its way to the others: the
			// application role sees no other tenant.
			return struct {
				eventstore.StreamLifecycle
				eventstore.Reclaimer
				archiveOps
			}{v, v, v}
		},
		Features: eventstoretest.Features{Lifecycle: true, Reclaim: true, Archive: true},
	})
}

// archiveOps are eventstore.StreamArchiver's own methods, which a view
// embeds beside the lifecycle's.
type archiveOps interface {
	ArchiveStream(ctx context.Context, streamID string, expected eventstore.ExpectedVersion) (eventstore.Position, error)
	ReadArchivedStream(ctx context.Context, streamID string, from int64, limit int) ([]eventstore.Record, error)
}

// MaxAge hides events by their recorded_at, against the database's clock.
func TestMaxAgeHidesOldEvents(t *testing.T) {
	pool, schema := testenv.Schema(t)
	ctx := t.Context()
	if err := pgstore.Migrate(ctx, pool, &pgstore.Options{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ev := []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}, {Type: "C", Data: []byte(`{}`)}}
	if _, err := s.Append(ctx, "s", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE "+pgx.Identifier{schema, "events"}.Sanitize()+
		" SET recorded_at = now() - (4 - version) * interval '1 hour' WHERE stream_id = 's'"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetStreamMetadata(ctx, "s", eventstore.StreamMetadata{MaxAge: 150 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadStream(ctx, "s", 0, eventstore.Forward, 0)
	if err != nil || len(recs) != 2 || recs[0].Version != 2 {
		t.Fatalf("ReadStream with MaxAge 150m over events 3h, 2h and 1h old = %d records, %v; want versions 2 and 3", len(recs), err)
	}
	if n, err := s.ReclaimStreams(ctx); err != nil || n != 1 {
		t.Errorf("ReclaimStreams = %d, %v; want the expired event, 1", n, err)
	}
	if _, err := s.AllTenants().ReclaimStreams(ctx); err != nil {
		t.Errorf("ReclaimStreams on the all-tenants view = %v", err)
	}
	if m, err := s.ReadStreamMetadata(ctx, "s"); err != nil || m.MaxAge != 150*time.Minute {
		t.Errorf("ReadStreamMetadata = %+v, %v", m, err)
	}
}
