package projection_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

type ledger struct {
	Deposits int
	Since    int64 // the first version still stored, after a truncation
	Archived bool
}

var ledgers = readmodel.Model[ledger]{}

// ledgersProjection keeps a document per ledger stream, drops it when
// the stream is deleted and notes a truncation or an archive in it.
func ledgersProjection() *projection.Projection {
	p := projection.New("ledgers", "1", nil)
	p.On("Deposited", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		a, _, err := projection.Load(ctx, tx, ledgers, rec.StreamID)
		if err != nil {
			return err
		}
		a.Deposits++
		return projection.Store(tx, ledgers, rec.StreamID, a)
	})
	p.OnStreamDeleted(projection.DropDocumentOnDelete)
	p.OnStreamTruncated(func(ctx context.Context, tx *projection.Tx, e eventstore.LifecycleEvent) error {
		a, ok, err := projection.Load(ctx, tx, ledgers, e.StreamID)
		if err != nil || !ok {
			return err
		}
		a.Since = e.Before
		return projection.Store(tx, ledgers, e.StreamID, a)
	})
	p.OnStreamArchived(func(ctx context.Context, tx *projection.Tx, e eventstore.LifecycleEvent) error {
		a, ok, err := projection.Load(ctx, tx, ledgers, e.StreamID)
		if err != nil || !ok {
			return err
		}
		a.Archived = true
		return projection.Store(tx, ledgers, e.StreamID, a)
	})
	return p
}

// Deletes, truncations and archives made through the event store reach every
// partition's read model in log order.
func TestLifecycleReachesProjection(t *testing.T) {
	ctx := t.Context()
	es, rm := memstore.New(nil), memstore.NewReadModels(nil)
	const partitions = 3
	for part := range partitions {
		r, err := projection.NewRunner(projection.Config{Projection: ledgersProjection(), Source: projection.LogSource(es, nil),
			Store: rm, Partitions: partitions, Partition: part})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(rctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	deposit := eventstore.Event{Type: "Deposited", Data: json.RawMessage(`{}`)}
	for i, id := range []string{"acct-1", "acct-2", "acct-3", "acct-4", "acct-5", "acct-6"} {
		if _, err := es.Append(ctx, id, eventstore.NoStream, []eventstore.Event{deposit, deposit, deposit}[:1+i%3]); err != nil {
			t.Fatal(err)
		}
	}
	var last eventstore.Position
	for _, op := range []func() (eventstore.Position, error){
		func() (eventstore.Position, error) {
			return es.DeleteStream(ctx, "acct-1", eventstore.Any, eventstore.SoftDelete)
		},
		func() (eventstore.Position, error) {
			return es.DeleteStream(ctx, "acct-4", eventstore.Any, eventstore.HardDelete)
		},
		func() (eventstore.Position, error) { return es.TruncateStream(ctx, "acct-3", 3) },
		func() (eventstore.Position, error) { return es.TruncateStream(ctx, "acct-5", 2) },
	} {
		pos, err := op()
		if err != nil {
			t.Fatal(err)
		}
		last = pos
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := projection.WaitFor(wctx, rm, "ledgers", "", last); err != nil {
		t.Fatal(err)
	}
	// Archived after the projection saw the stream's events: a projection
	// that catches up later meets the marker alone.
	last, err := es.ArchiveStream(ctx, "acct-6", eventstore.Exact(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := projection.WaitFor(wctx, rm, "ledgers", "", last); err != nil {
		t.Fatal(err)
	}
	view := ledgers.View(rm, readmodel.Namespace{Projection: "ledgers", Version: "1"})
	got := map[string]ledger{}
	for _, id := range []string{"acct-1", "acct-2", "acct-3", "acct-4", "acct-5", "acct-6"} {
		if a, err := view.Get(ctx, id); err == nil {
			got[id] = a
		}
	}
	want := map[string]ledger{"acct-2": {Deposits: 2}, "acct-3": {Deposits: 3, Since: 3}, "acct-5": {Deposits: 2, Since: 2}, "acct-6": {Deposits: 3, Archived: true}}
	if len(got) != len(want) {
		t.Fatalf("read model = %+v, want %+v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %+v, want %+v", id, got[id], w)
		}
	}
}

func TestPartitionOfMetadataStream(t *testing.T) {
	for _, id := range []string{"a", "acct-1", "order-77", "x"} {
		if got, want := projection.PartitionOf(eventstore.MetadataStreamID(id), 7), projection.PartitionOf(id, 7); got != want {
			t.Errorf("PartitionOf(%q) = %d, want %q's partition %d", eventstore.MetadataStreamID(id), got, id, want)
		}
	}
}
