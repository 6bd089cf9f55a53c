package cli

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

func natsURL() string {
	if u := os.Getenv("EVENTFOLD_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// The relay command forwards every tenant's events to JetStream, packed
// into batch envelopes when --events-per-message asks for them.
func TestRelayCommandPacksEnvelopes(t *testing.T) {
	conn, err := nats.Connect(natsURL(), nats.Timeout(2*time.Second))
	if err != nil {
		testenv.Unavailable(t, "NATS", err)
		return
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	pool, schema := testenv.Schema(t)
	topic := "eventfold_t_cli_relay_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Cleanup(func() { _ = js.DeleteStream(topic) })
	pg := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema, "--nats-url", natsURL()}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	acme, err := store.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	const events = 30
	for i := range events {
		s := eventstore.Store(store)
		if i%2 == 1 {
			s = acme
		}
		if _, err := s.Append(t.Context(), "order-"+strconv.Itoa(i), eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := cli(t, append([]string{"relay", "--topic", topic, "--events-per-message", "0"}, pg...)...); err == nil ||
		!strings.Contains(err.Error(), "--events-per-message") {
		t.Errorf("relay --events-per-message 0: %v, want an error naming the flag", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Execute(ctx, append([]string{"relay", "--topic", topic, "--events-per-message", "10"}, pg...), Options{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay stopped with %v", err)
		}
	}()

	testenv.Eventually(t, 30*time.Second, func() bool {
		info, err := js.StreamInfo(topic)
		return err == nil && info.State.Msgs > 0
	}, "no messages in the JetStream stream %s", topic)
	packed := 0
	sub, err := js.SubscribeSync(topic, nats.DeliverAll(), nats.AckNone())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck
	deadline := time.Now().Add(30 * time.Second)
	for packed < events && time.Now().Before(deadline) {
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d events: %v", packed, err)
		}
		n := 1
		if b := msg.Header.Get("eventfold_batch"); b != "" {
			if n, err = strconv.Atoi(b); err != nil || n < 1 || n > 10 {
				t.Fatalf("eventfold_batch = %q, want 1 to 10", b)
			}
		}
		packed += n
	}
	if packed != events {
		t.Errorf("the messages carry %d events, want %d (both tenants)", packed, events)
	}
	info, err := js.StreamInfo(topic)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs >= events {
		t.Errorf("%d messages for %d events: want envelopes of up to 10", info.State.Msgs, events)
	}
}

// Two deployments sharing one database, each in its own schema, run their
// relays of the same --name side by side: the lease belongs to a schema,
// not to the whole database.
func TestRelaysOfTwoSchemasRunTogether(t *testing.T) {
	conn, err := nats.Connect(natsURL(), nats.Timeout(2*time.Second))
	if err != nil {
		testenv.Unavailable(t, "NATS", err)
		return
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var done []chan error
	defer func() {
		cancel()
		for _, d := range done {
			if err := <-d; err != nil {
				t.Errorf("relay stopped with %v", err)
			}
		}
	}()
	var topics []string
	for i := range 2 {
		pool, schema := testenv.Schema(t)
		topic := "eventfold_t_cli_relay2_" + strconv.Itoa(i) + "_" + strconv.FormatInt(time.Now().UnixNano(), 36)
		topics = append(topics, topic)
		t.Cleanup(func() { _ = js.DeleteStream(topic) })
		pg := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema, "--nats-url", natsURL()}
		mustCLI(t, append([]string{"migrate"}, pg...)...)
		store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(t.Context(), "order-1", eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		d := make(chan error, 1)
		done = append(done, d)
		go func() {
			d <- Execute(ctx, append([]string{"relay", "--topic", topic}, pg...), Options{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}})
		}()
	}
	for _, topic := range topics {
		testenv.Eventually(t, 15*time.Second, func() bool {
			info, err := js.StreamInfo(topic)
			return err == nil && info.State.Msgs > 0
		}, "the relay of %s forwarded nothing: another schema's relay holds its lease", topic)
	}
}
