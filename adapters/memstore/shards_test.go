package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
)

// Tenants sharded over two stores: each tenant's events land on its own
// shard, and each shard's log holds only its tenants.
func ExampleNew_shards() {
	ctx := context.Background()
	east, west := memstore.New(nil), memstore.New(nil)
	m := eventstore.NewStaticShardMap("east", map[string]string{"globex": "west"})
	shards, _ := eventstore.NewShards(map[string]eventstore.Store{"east": east, "west": west}, m)

	opened := []eventstore.Event{{Type: "AccountOpened", Data: []byte(`{}`)}}
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := shards.Append(ctx, tenant, "account-1", eventstore.NoStream, opened); err != nil {
			fmt.Println(err)
		}
	}
	for _, name := range shards.Names() {
		shard, _ := shards.Shard(name)
		all, _ := eventstore.AllTenants(shard)
		recs, _ := all.ReadAll(ctx, eventstore.Position{}, 0)
		for _, r := range recs {
			fmt.Println(name, r.Tenant, r.StreamID, r.Version)
		}
	}
	// Output:
	// east acme account-1 1
	// west globex account-1 1
}

// fencedStore answers every tenant's append with ErrTenantFenced, as a
// shard does for a tenant that moved away.
type fencedStore struct{ *memstore.Store }

func (f fencedStore) StoreForTenant(string) (eventstore.Store, error) {
	return fencedView{f.Store}, nil
}

type fencedView struct{ *memstore.Store }

func (fencedView) Append(context.Context, string, eventstore.ExpectedVersion, []eventstore.Event) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, fmt.Errorf("shard: %w", eventstore.ErrTenantFenced)
}

func TestShardsRouteAndFollowAMove(t *testing.T) {
	ctx := context.Background()
	old, target := fencedStore{memstore.New(nil)}, memstore.New(nil)
	m := eventstore.NewStaticShardMap("old", nil)
	shards, err := eventstore.NewShards(map[string]eventstore.Store{"old": old, "new": target}, m)
	if err != nil {
		t.Fatal(err)
	}
	ev := []eventstore.Event{{Type: "E", Data: []byte(`{}`)}}

	// The move is under way: the map still names the fenced shard.
	if _, err := shards.Append(ctx, "acme", "s", eventstore.NoStream, ev); !errors.Is(err, eventstore.ErrTenantFenced) {
		t.Fatalf("append during the move: %v, want ErrTenantFenced", err)
	}
	// The move flipped the map after this router looked it up: the
	// fenced append is sent again to the new shard, once.
	fenced := &flippingMap{StaticShardMap: m, tenant: "acme", to: "new"}
	shards, _ = eventstore.NewShards(map[string]eventstore.Store{"old": fencedStore{old.Store}, "new": target}, fenced)
	res, err := shards.Append(ctx, "acme", "s", eventstore.NoStream, ev)
	if err != nil || res.StreamVersion != 1 {
		t.Fatalf("append after the flip: %+v, %v", res, err)
	}
	view, _ := shards.ForTenant(ctx, "acme")
	recs, err := view.ReadStream(ctx, "s", 0, eventstore.Forward, 0)
	if err != nil || len(recs) != 1 || recs[0].Tenant != "acme" {
		t.Fatalf("the new shard holds %+v, %v", recs, err)
	}
	if name, _ := shards.ShardOf(ctx, "acme"); name != "new" {
		t.Fatalf("acme on %q", name)
	}
}

// flippingMap answers the first lookup of tenant with the old shard and
// assigns tenant to another shard right after, as a move completing
// between a lookup and the append would.
type flippingMap struct {
	*eventstore.StaticShardMap
	tenant, to string
	flipped    bool
}

func (f *flippingMap) ShardOf(ctx context.Context, tenant string) (string, error) {
	s, err := f.StaticShardMap.ShardOf(ctx, tenant)
	if tenant == f.tenant && !f.flipped {
		f.flipped = true
		_ = f.Assign(ctx, f.tenant, f.to)
	}
	return s, err
}

func TestShardsRejectsAnUnknownShard(t *testing.T) {
	m := eventstore.NewStaticShardMap("east", map[string]string{"acme": "mars"})
	shards, err := eventstore.NewShards(map[string]eventstore.Store{"east": memstore.New(nil)}, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shards.ForTenant(context.Background(), "acme"); err == nil {
		t.Fatal("a tenant on a shard the router does not have got a view")
	}
	if _, err := eventstore.NewShards(nil, m); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Fatalf("no stores: %v", err)
	}
}
