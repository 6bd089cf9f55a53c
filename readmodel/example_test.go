package readmodel_test

import (
	"context"
	"fmt"
	"log"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/readmodel"
)

type Order struct {
	Customer string `json:"customer"`
	Total    int64  `json:"total"`
}

var orders = readmodel.Model[Order]{
	Indexes: []readmodel.Index[Order]{
		readmodel.By("by-customer", func(o Order) readmodel.Value { return readmodel.String(o.Customer) }),
		readmodel.By("by-total", func(o Order) readmodel.Value { return readmodel.Int(o.Total) }),
	},
}

// A projection writes typed documents in an atomic batch together with its
// checkpoint; a query reads them through a read-only view.
func Example() {
	ctx := context.Background()
	store := memstore.NewReadModels(nil)
	ns := readmodel.Namespace{Projection: "orders", Version: "v1"}

	var b readmodel.Batch
	for i, o := range []Order{{"alice", 30}, {"bob", 12}, {"alice", 7}} {
		w, err := orders.Put(fmt.Sprintf("order-%d", i+1), readmodel.Revision{Sequence: uint64(i + 1)}, o)
		if err != nil {
			log.Fatal(err)
		}
		b.Writes = append(b.Writes, w)
	}
	b.Checkpoint = "3"
	if _, err := store.Apply(ctx, ns, b); err != nil {
		log.Fatal(err)
	}

	view := orders.View(readmodel.ReadOnly(store), ns)
	page, err := view.Query(ctx, readmodel.Equal("by-customer", readmodel.String("alice")))
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range page.Items {
		fmt.Println(it.ID, it.Doc.Total)
	}
	// Output:
	// order-1 30
	// order-3 7
}

// The version guard ignores a write that reflects an older revision than
// the stored document, so a redelivered event cannot move it backwards.
func ExampleWriter_Apply() {
	ctx := context.Background()
	store := memstore.NewReadModels(nil)
	ns := readmodel.Namespace{Projection: "orders"}

	newer, _ := orders.Put("order-1", readmodel.Revision{Sequence: 5}, Order{"alice", 50})
	older, _ := orders.Put("order-1", readmodel.Revision{Sequence: 4}, Order{"alice", 40})
	res, err := store.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{newer, older}})
	if err != nil {
		log.Fatal(err)
	}
	o, err := orders.View(store, ns).Get(ctx, "order-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied:", res.Applied, "stale:", res.Stale, "total:", o.Total)
	// Output: applied: 1 stale: [1] total: 50
}

// Pages follow each other through cursors.
func ExampleQuery() {
	ctx := context.Background()
	store := memstore.NewReadModels(nil)
	ns := readmodel.Namespace{Projection: "orders"}
	var b readmodel.Batch
	for i, total := range []int64{5, 80, 20, 45, 60} {
		w, _ := orders.Put(fmt.Sprint("o", i), readmodel.Revision{Sequence: 1}, Order{"c", total})
		b.Writes = append(b.Writes, w)
	}
	if _, err := store.Apply(ctx, ns, b); err != nil {
		log.Fatal(err)
	}

	// Orders with a total of at least 20, largest first, two per page.
	q := readmodel.Between("by-total", readmodel.Int(20), readmodel.Value{})
	q.Descending = true
	q.Limit = 2
	view := orders.View(store, ns)
	for {
		page, err := view.Query(ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		for _, it := range page.Items {
			fmt.Print(it.Doc.Total, " ")
		}
		fmt.Println("|")
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	// Output:
	// 80 60 |
	// 45 20 |
}

// State tells a projection where it stopped and whether the store still has
// the namespace.
func ExampleReader_State() {
	ctx := context.Background()
	store := memstore.NewReadModels(nil)
	ns := readmodel.Namespace{Projection: "orders", Version: "v2", Tenant: "acme"}

	st, _ := store.State(ctx, ns)
	fmt.Printf("%+v\n", st)
	if _, err := store.Apply(ctx, ns, readmodel.Batch{Checkpoint: "42"}); err != nil {
		log.Fatal(err)
	}
	st, _ = store.State(ctx, ns)
	fmt.Printf("%+v\n", st)
	if err := store.Drop(ctx, ns); err != nil {
		log.Fatal(err)
	}
	st, _ = store.State(ctx, ns)
	fmt.Printf("%+v\n", st)
	// Output:
	// {Initialized:false Checkpoint:}
	// {Initialized:true Checkpoint:42}
	// {Initialized:false Checkpoint:}
}

// A Partitioned store spreads one read model over partitions, each a
// namespace of its own (on Redis Cluster, a hash slot of its own): a
// document lives in the partition its ID selects, and queries merge the
// partitions in index order.
func ExamplePartitioned() {
	ctx := context.Background()
	store, err := readmodel.NewPartitioned(memstore.NewReadModels(nil), 4)
	if err != nil {
		log.Fatal(err)
	}
	ns := readmodel.Namespace{Projection: "orders", Version: "v1"}
	var b readmodel.Batch
	for i, o := range []Order{{"alice", 30}, {"bob", 12}, {"alice", 7}, {"carol", 19}} {
		w, err := orders.Put(fmt.Sprintf("order-%d", i+1), readmodel.Revision{Sequence: 1}, o)
		if err != nil {
			log.Fatal(err)
		}
		b.Writes = append(b.Writes, w)
	}
	// Atomic per partition: each partition commits its share with the
	// checkpoint.
	if _, err := store.Apply(ctx, ns, b); err != nil {
		log.Fatal(err)
	}
	fmt.Println("order-2 is in", store.Partition(ns, "order-2").Partition)

	q := readmodel.All("by-total")
	q.Limit = 3
	page, err := orders.View(readmodel.ReadOnly(store), ns).Query(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range page.Items {
		fmt.Println(it.ID, it.Doc.Total)
	}
	fmt.Println("more:", page.Next != "")
	// Output:
	// order-2 is in 0/4
	// order-3 7
	// order-2 12
	// order-4 19
	// more: true
}
