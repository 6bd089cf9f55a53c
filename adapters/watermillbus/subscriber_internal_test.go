package watermillbus

import (
	"context"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
)

// A long-lived subscriber that subscribes and unsubscribes keeps nothing of
// the subscriptions that ended.
func TestLogSubscriberReleasesEndedSubscriptions(t *testing.T) {
	sub := NewLogSubscriber(memstore.New(nil), nil)
	defer sub.Close()
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithCancel(t.Context())
		msgs, err := sub.Subscribe(ctx, TopicAll)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case <-msgs:
		case <-time.After(5 * time.Second):
			t.Fatal("the channel did not close after its context ended")
		}
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if n := len(sub.cancel); n != 0 {
		t.Errorf("the subscriber holds %d cancel funcs after every subscription ended", n)
	}
}
