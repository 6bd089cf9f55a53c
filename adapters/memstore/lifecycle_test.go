package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
)

// MaxAge hides the events recorded before the store's clock minus MaxAge.
func TestMaxAgeFollowsTheClock(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memstore.New(&memstore.Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	for i := range 3 {
		if _, err := s.Append(ctx, "s", eventstore.Any, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			now = now.Add(time.Hour)
		}
	}
	if _, err := s.SetStreamMetadata(ctx, "s", eventstore.StreamMetadata{MaxAge: 90 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadStream(ctx, "s", 0, eventstore.Forward, 0)
	if err != nil || len(recs) != 2 || recs[0].Version != 2 {
		t.Fatalf("ReadStream with MaxAge 90m = %d records from %v, %v; want versions 2 and 3", len(recs), recs, err)
	}
	now = now.Add(2 * time.Hour)
	if recs, err := s.ReadStream(ctx, "s", 0, eventstore.Forward, 0); err != nil || len(recs) != 0 {
		t.Errorf("ReadStream two hours later = %d records, %v; want none and no error", len(recs), err)
	}
}

// A ReclaimJob reclaims at once and then every interval, and stops with
// its context.
func TestReclaimJob(t *testing.T) {
	s := memstore.New(nil)
	ctx := t.Context()
	if _, err := s.Append(ctx, "s", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteStream(ctx, "s", eventstore.Any, eventstore.SoftDelete); err != nil {
		t.Fatal(err)
	}
	job, err := eventstore.NewReclaimJob(s, &eventstore.ReclaimOptions{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- job.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := s.ReadAll(ctx, eventstore.Position{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 1 && recs[0].Type == eventstore.StreamDeletedType {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's first pass left %d events in the log, want the marker alone", len(recs))
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
	if _, err := eventstore.NewReclaimJob(nil, nil); err == nil {
		t.Error("NewReclaimJob(nil) succeeded")
	}
}
