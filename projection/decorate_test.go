package projection_test

import (
	"context"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// bareStore hides every optional interface of the store it embeds.
type bareStore struct{ eventstore.Store }

func TestDecorateStore(t *testing.T) {
	ctx := t.Context()
	appends := 0
	hooks := projection.StoreHooks{Append: func(ctx context.Context, stream string, events []eventstore.Event,
		next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
		appends++
		return next(ctx, events)
	}}
	ev := []eventstore.Event{{Type: "A", Data: []byte(`{}`)}}

	full := projection.DecorateStore(memstore.New(nil), hooks)
	keyed, ok := full.(eventstore.KeyedAppender)
	if !ok {
		t.Fatal("the decorated memstore lost KeyedAppender")
	}
	if _, ok := full.(projection.HeadReader); !ok {
		t.Fatal("the decorated memstore lost HeadReader")
	}
	if _, err := full.Append(ctx, "s", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := keyed.AppendKeyed(ctx, "k", "s", eventstore.Exact(1), ev); err != nil {
		t.Fatal(err)
	}
	if appends != 2 {
		t.Errorf("the Append hook ran %d times, want 2 (Append and AppendKeyed)", appends)
	}

	bare := projection.DecorateStore(bareStore{memstore.New(nil)}, projection.StoreHooks{})
	if _, ok := bare.(eventstore.KeyedAppender); ok {
		t.Error("a bare store gained KeyedAppender")
	}
	changed := bare.(projection.Notifier).Changed()
	if _, err := bare.Append(ctx, "s", eventstore.Any, ev); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(time.Second):
		t.Error("Changed was not closed after an append through the decorator")
	}
}
