package e2e_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
	tallies "github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/projection"
)

// TestTenantsEndToEnd: two tenants write to the same stream IDs at once,
// beside the default tenant. The relay forwards every tenant's events, each
// message naming its tenant. One tenant's projection reads every tenant's
// log as Watermill messages (LogSubscriber), the other's reads its own log
// in PostgreSQL. Each tenant's read model in Redis ends up with exactly its
// own events: the tally of its own log, nothing of the other's.
func TestTenantsEndToEnd(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	tenants := map[string]int{"acme": 1, "globex": 1000}
	const streams, appends = 4, 25

	var wg sync.WaitGroup
	var mu sync.Mutex
	last := map[string]eventstore.Position{}
	for tenant, n := range tenants {
		ts, err := e.store.ForTenant(tenant)
		if err != nil {
			t.Fatal(err)
		}
		for s := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range appends {
					res, err := ts.Append(ctx, fmt.Sprintf("s-%d", s), eventstore.Any, []eventstore.Event{tallies.Event(n * (i + 1))})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if last[tenant].Before(res.Position) {
						last[tenant] = res.Position
					}
					mu.Unlock()
				}
			}()
		}
	}
	for i := range 10 {
		if _, err := e.store.Append(ctx, "s-0", eventstore.Any, []eventstore.Event{tallies.Event(1000000 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The relay forwards all tenants, each message naming its tenant.
	pubsub := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	t.Cleanup(func() { pubsub.Close() })
	rctx, cancel := context.WithCancel(ctx)
	msgs, err := pubsub.Subscribe(rctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	relay, err := watermillbus.NewRelay(watermillbus.RelayConfig{
		Store: e.store.AllTenants(), Publisher: pubsub, Topic: "log",
		Checkpoints: pgstore.NewCheckpoints(e.pool, &pgstore.Options{Schema: e.schema}),
	})
	if err != nil {
		t.Fatal(err)
	}
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-relayDone })
	forwarded := map[string]int{}
	for n := 0; n < len(tenants)*streams*appends+10; n++ {
		select {
		case msg := <-msgs:
			rec, _, err := watermillbus.Record(msg)
			if err != nil {
				t.Fatal(err)
			}
			forwarded[rec.Tenant]++
			msg.Ack()
		case <-time.After(time.Minute):
			t.Fatalf("the relay forwarded only %v", forwarded)
		}
	}
	if want := map[string]int{"acme": streams * appends, "globex": streams * appends, "": 10}; !cmp.Equal(want, forwarded) {
		t.Errorf("the relay forwarded %v events by tenant, want %v", forwarded, want)
	}

	globex, _ := e.store.ForTenant("globex")
	sources := map[string]projection.Source{
		"acme":   watermillbus.NewSource(watermillbus.NewLogSubscriber(e.store.AllTenants(), nil), watermillbus.TopicAll, nil),
		"globex": projection.LogSource(globex, nil),
	}
	for tenant, src := range sources {
		r, err := projection.NewRunner(projection.Config{Projection: tallyProjection(), Tenant: tenant, Source: src, Store: e.rm})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.Run(rctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}

	for tenant := range tenants {
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		err := projection.WaitFor(wctx, e.rm, tallies.Name, tenant, last[tenant])
		wcancel()
		if err != nil {
			t.Fatalf("tenant %s: WaitFor(%v) = %v", tenant, last[tenant], err)
		}
		ts, _ := e.store.ForTenant(tenant)
		want, err := tallies.Fold(ctx, ts)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := projection.Active(ctx, e.rm, tallies.Name, tenant)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, 0, streams)
		for s := range streams {
			ids = append(ids, fmt.Sprintf("s-%d", s))
		}
		items, err := tallies.Model.View(e.rm, ns).GetMany(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]tally{}
		for _, it := range items {
			got[it.ID] = it.Doc
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tenant %s: read model differs from its own log (-log +read model):\n%s", tenant, diff)
		}
		for id, doc := range got {
			if doc.Count != appends || doc.Sum != tenants[tenant]*appends*(appends+1)/2 {
				t.Errorf("tenant %s: %s = %+v, want %d events summing to %d", tenant, id, doc, appends, tenants[tenant]*appends*(appends+1)/2)
			}
		}
	}
}
