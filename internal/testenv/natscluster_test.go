package testenv_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/eventfold/eventfold/internal/testenv"
)

// TestNATSCluster starts a cluster, replicates a stream on all three
// nodes, kills one node and restarts it: the stream stays available with
// two nodes and the restarted node rejoins.
func TestNATSCluster(t *testing.T) {
	c := testenv.NATSCluster(t, 3)
	conn, err := nats.Connect(strings.Join(c.URLs(), ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	js, err := conn.JetStream(nats.MaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "probe", Subjects: []string{"probe"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("probe", []byte("1")); err != nil {
		t.Fatal(err)
	}
	si, err := js.StreamInfo("probe")
	if err != nil {
		t.Fatal(err)
	}
	follower := (c.Index(si.Cluster.Leader) + 1) % 3
	c.Kill(follower)
	// The client may have been connected to the node that died: it
	// reconnects to another, and a publish in between times out.
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, err := js.Publish("probe", []byte("2"), nats.MsgId("probe-2"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish with %s down: %v", c.Name(follower), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Restart(follower)
	testenv.Eventually(t, 10*time.Second, func() bool {
		si, err := js.StreamInfo("probe")
		if err != nil || si.Cluster == nil {
			return false
		}
		for _, r := range si.Cluster.Replicas {
			if r.Name == c.Name(follower) && r.Current {
				return si.State.Msgs == 2
			}
		}
		return false
	}, "%s did not catch up after its restart", c.Name(follower))
}
