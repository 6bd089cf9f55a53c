package tally

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// Name is the projection's name.
const Name = "tallies"

// Doc is one stream's tally.
type Doc struct {
	Count int `json:"count"`
	Sum   int `json:"sum"`
}

// Model stores Docs as JSON, without indexes.
var Model = readmodel.Model[Doc]{}

// Event returns an "Added" event carrying n, with a fresh ID.
func Event(n int) eventstore.Event {
	return eventstore.Event{ID: eventstore.NewEventID(), Type: "Added", Data: fmt.Appendf(nil, `{"N":%d}`, n)}
}

// Added is the event a tally counts.
type Added struct{ N int }

// Registry returns the registry of Added, as a command side would build it.
func Registry() *command.Registry {
	reg := command.NewRegistry(nil)
	if err := command.Register[Added](reg, "Added", nil); err != nil {
		panic(err) // a constant registration: cannot fail
	}
	return reg
}

// Projection returns the tally projection at version "1".
func Projection() *projection.Projection {
	p := projection.New(Name, "1", Registry())
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e Added) error {
		t, _, err := projection.Load(ctx, tx, Model, rec.StreamID)
		if err != nil {
			return err
		}
		t.Count++
		t.Sum += e.N
		return projection.Store(tx, Model, rec.StreamID, t)
	})
	return p
}

// Fold reads the whole global log and tallies it.
func Fold(ctx context.Context, store eventstore.Store) (map[string]Doc, error) {
	want := map[string]Doc{}
	var after eventstore.Position
	for {
		recs, err := store.ReadAll(ctx, after, 0)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return want, nil
		}
		for _, r := range recs {
			var e Added
			_ = json.Unmarshal(r.Data, &e)
			x := want[r.StreamID]
			x.Count++
			x.Sum += e.N
			want[r.StreamID] = x
		}
		after = recs[len(recs)-1].Position
	}
}

// Read returns the active version's tallies of the given streams, kept
// whole or spread over partitions.
func Read(ctx context.Context, r readmodel.Reader, streams []string) (map[string]Doc, error) {
	r, ns, err := projection.Serving(ctx, r, Name, "")
	if err != nil {
		return nil, err
	}
	items, err := Model.View(r, ns).GetMany(ctx, streams)
	if err != nil {
		return nil, err
	}
	got := make(map[string]Doc, len(items))
	for _, it := range items {
		got[it.ID] = it.Doc
	}
	return got, nil
}

// Check waits (up to a minute) until the projection has applied last, then
// fails t unless the read model equals a fold of the store.
func Check(t testing.TB, store eventstore.Store, r readmodel.Reader, last eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := projection.WaitFor(ctx, r, Name, "", last); err != nil {
		t.Fatalf("WaitFor(%s): %v", last, err)
	}
	want, err := Fold(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	streams := make([]string, 0, len(want))
	for id := range want {
		streams = append(streams, id)
	}
	got, err := Read(ctx, r, streams)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read model differs from the fold of the event store (-want +got):\n%s", diff)
	}
}
