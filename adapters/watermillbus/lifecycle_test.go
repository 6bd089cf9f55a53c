package watermillbus_test

import (
	"context"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
)

// Lifecycle events travel through a message like any event, so a
// projection behind a broker learns of deletes and truncations.
func TestLifecycleEventsCrossTheBroker(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(nil)
	ev := []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}}
	for _, id := range []string{"soft", "hard", "cut"} {
		if _, err := s.Append(ctx, id, eventstore.NoStream, ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range []error{
		func() error { _, err := s.DeleteStream(ctx, "soft", eventstore.Any, eventstore.SoftDelete); return err }(),
		func() error { _, err := s.DeleteStream(ctx, "hard", eventstore.Any, eventstore.HardDelete); return err }(),
		func() error { _, err := s.TruncateStream(ctx, "cut", 2); return err }(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	log, err := s.ReadAll(ctx, eventstore.Position{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []eventstore.LifecycleEvent
	prev := eventstore.Position{}
	for _, rec := range log {
		back, _, err := watermillbus.Record(watermillbus.NewMessage(rec, prev))
		if err != nil {
			t.Fatal(err)
		}
		prev = rec.Position
		if e, ok := eventstore.LifecycleEventOf(back); ok {
			got = append(got, e)
		}
	}
	if len(got) != 3 || got[0].StreamID != "soft" || !got[0].Deleted() || got[0].Hard() ||
		!got[1].Hard() || got[2].Type != eventstore.StreamTruncatedType || got[2].Before != 2 {
		t.Errorf("lifecycle events after a message round trip = %+v", got)
	}
}
