package redisstore_test

import (
	"context"
	"log"

	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/readmodel"
	"github.com/redis/go-redis/v9"
)

// A single node, Sentinel or Cluster: any redis.UniversalClient will do.
// The query side gets only a read-only view.
func ExampleNew() {
	ctx := context.Background()
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: []string{"127.0.0.1:6379"}, // several addresses make a ClusterClient
	})
	defer client.Close()

	store, err := redisstore.New(client, &redisstore.Options{Prefix: "myapp:rm:"})
	if err != nil {
		log.Fatal(err)
	}
	ns := readmodel.Namespace{Projection: "orders", Version: "v1"}

	// The projection commits its writes and its checkpoint in one step.
	_, err = store.Apply(ctx, ns, readmodel.Batch{
		Writes: []readmodel.Write{{
			ID:       "order-1",
			Revision: readmodel.Revision{Commit: 812, Sequence: 4},
			Data:     []byte(`{"customer":"alice","total":42}`),
			Entries:  []readmodel.Entry{{Index: "by-customer", Value: readmodel.String("alice")}},
		}},
		Checkpoint: "812-4",
	})
	if err != nil {
		log.Fatal(err)
	}

	queries := readmodel.ReadOnly(store)
	page, err := queries.Query(ctx, ns, readmodel.Equal("by-customer", readmodel.String("alice")))
	if err != nil {
		log.Fatal(err)
	}
	log.Println(len(page.Documents))
}
