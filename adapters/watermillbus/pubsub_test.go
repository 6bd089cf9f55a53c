package watermillbus_test

import (
	"os"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
)

// TestPubSub runs Watermill's universal Pub/Sub suite against a Publisher
// and LogSubscribers sharing one PostgreSQL store, as separate processes
// would.
func TestPubSub(t *testing.T) {
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	newPubSub := func(t *testing.T) (message.Publisher, message.Subscriber) {
		return watermillbus.NewPublisher(store, nil), watermillbus.NewLogSubscriber(store, &watermillbus.LogSubscriberOptions{
			Poll: projection.LogOptions{MaxPoll: 50 * time.Millisecond}, NackDelay: 10 * time.Millisecond,
		})
	}
	tests.TestPubSub(t, tests.Features{
		// No consumer groups: every subscription receives every message of
		// its topic; none shares the work with another.
		ConsumerGroups: false,
		// A nacked message comes again, and a new subscription starts at
		// LogSubscriberOptions.From (by default the beginning of the log).
		ExactlyOnceDelivery: false,
		// A subscription delivers its topic in log order and waits for each
		// message's ack before the next, with any number of subscribers.
		GuaranteedOrder:                     true,
		GuaranteedOrderWithSingleSubscriber: false,
		// Messages are events stored in PostgreSQL, seen by every
		// Publisher and LogSubscriber on the store.
		Persistent:            true,
		RequireSingleInstance: false,
		// With From nil every subscription starts at the beginning of the
		// log, so it receives what was published before it.
		NewSubscriberReceivesOldMessages: true,
		// The publisher's context is not stored; a delivered message has
		// its own, which ends at Ack or Nack.
		ContextPreserved: false,
		// Restarting the shared PostgreSQL server is the chaos suite's
		// job (internal/chaos), not a unit test's.
		RestartServiceCommand: nil,
		// The full-size cases publish up to 10,000 messages with one
		// append each and read them with up to 50 subscribers, each of
		// which reads the whole shared log: about 75s with -race on two
		// cores, too close to the budget of a `make test` that runs other
		// packages alongside. The short sizes exercise the same behaviour
		// in seconds; EVENTFOLD_TEST_PUBSUB_FULL=1 runs the full sizes.
		ForceShort: os.Getenv("EVENTFOLD_TEST_PUBSUB_FULL") == "",
	}, newPubSub, func(t *testing.T, _ string) (message.Publisher, message.Subscriber) { return newPubSub(t) })
}
