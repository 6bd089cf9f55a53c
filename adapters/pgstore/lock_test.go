package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

func TestCheckpointsNeverMoveBack(t *testing.T) {
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	c := pgstore.NewCheckpoints(pool, opts)
	ctx := t.Context()
	if p, err := c.Load(ctx, "relay"); err != nil || !p.IsZero() {
		t.Fatalf("Load of an unsaved checkpoint = %v, %v", p, err)
	}
	steps := []struct{ save, want eventstore.Position }{
		{eventstore.Position{Commit: 10, Sequence: 5}, eventstore.Position{Commit: 10, Sequence: 5}},
		{eventstore.Position{Commit: 12, Sequence: 3}, eventstore.Position{Commit: 12, Sequence: 3}},
		{eventstore.Position{Commit: 11, Sequence: 9}, eventstore.Position{Commit: 12, Sequence: 3}}, // older: ignored
	}
	for _, s := range steps {
		if err := c.Save(ctx, "relay", s.save); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Load(ctx, "relay"); err != nil || got != s.want {
			t.Errorf("after Save(%v): Load = %v, %v; want %v", s.save, got, err, s.want)
		}
	}
}

func TestLockerIsExclusiveAndHandsOver(t *testing.T) {
	pool := testenv.Pool(t)
	l := pgstore.NewLocker(pool, &pgstore.LockOptions{Retry: 20 * time.Millisecond})
	name := "lease-" + t.Name() + time.Now().String()
	held, release, err := l.Lock(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := l.Lock(short, name); err == nil {
		t.Fatal("a second Lock got a lease that is held")
	}
	got := make(chan func(), 1)
	go func() {
		_, rel, err := l.Lock(t.Context(), name)
		if err != nil {
			t.Error(err)
			got <- func() {}
			return
		}
		got <- rel
	}()
	release()
	if held.Err() == nil {
		t.Error("the released lease's context is not cancelled")
	}
	select {
	case rel := <-got:
		rel()
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting Lock did not get the lease after release")
	}
}

func TestLockerTryLock(t *testing.T) {
	pool := testenv.Pool(t)
	l := pgstore.NewLocker(pool, &pgstore.LockOptions{Retry: 20 * time.Millisecond})
	name := "try-" + t.Name() + time.Now().String()
	_, release, ok, err := l.TryLock(t.Context(), name)
	if err != nil || !ok {
		t.Fatalf("TryLock of a free lease = %v, %v", ok, err)
	}
	if _, _, ok, err := l.TryLock(t.Context(), name); err != nil || ok {
		t.Fatalf("TryLock of a held lease = %v, %v; want false", ok, err)
	}
	release()
	release() // a second release is harmless
	_, release2, ok, err := l.TryLock(t.Context(), name)
	if err != nil || !ok {
		t.Fatalf("TryLock after release = %v, %v", ok, err)
	}
	release2()
}

// Lockers of different scopes share a database but not their leases.
func TestLockerScopes(t *testing.T) {
	pool := testenv.Pool(t)
	name := "scoped-" + t.Name() + time.Now().String()
	a := pgstore.NewLocker(pool, &pgstore.LockOptions{Scope: "schema-a|"})
	b := pgstore.NewLocker(pool, &pgstore.LockOptions{Scope: "schema-b|"})
	_, releaseA, ok, err := a.TryLock(t.Context(), name)
	if err != nil || !ok {
		t.Fatalf("TryLock in scope a = %v, %v", ok, err)
	}
	defer releaseA()
	_, releaseB, ok, err := b.TryLock(t.Context(), name)
	if err != nil || !ok {
		t.Fatalf("TryLock of the same name in scope b = %v, %v; want it free", ok, err)
	}
	releaseB()
	if _, _, ok, err := pgstore.NewLocker(pool, &pgstore.LockOptions{Scope: "schema-a|"}).TryLock(t.Context(), name); err != nil || ok {
		t.Fatalf("TryLock in scope a again = %v, %v; want it held", ok, err)
	}
}
