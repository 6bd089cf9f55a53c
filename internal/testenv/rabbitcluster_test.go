package testenv_test

import (
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/eventfold/eventfold/internal/testenv"
)

// Three nodes form one cluster, a quorum queue gets a member on each, and
// after its leader is killed another node leads it.
func TestRabbitMQCluster(t *testing.T) {
	start := time.Now()
	c := testenv.RabbitMQCluster(t, 3)
	t.Logf("cluster formed in %v", time.Since(start).Round(time.Millisecond))
	status := c.Ctl(0, "cluster_status")
	for i := range 3 {
		if !strings.Contains(status, c.Name(i)) {
			t.Fatalf("%s is not in the cluster:\n%s", c.Name(i), status)
		}
	}
	conn, err := amqp091.Dial(c.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("q", true, false, false, false, amqp091.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	leader := testenv.QuorumLeader(t, c, 1, "q")
	if leader < 0 {
		t.Fatal("the quorum queue has no leader")
	}
	c.Kill(leader)
	other := (leader + 1) % 3
	start = time.Now()
	var now int
	testenv.Eventually(t, 30*time.Second, func() bool {
		now = testenv.QuorumLeader(t, c, other, "q")
		return now >= 0 && now != leader
	}, "no new leader after %s was killed", c.Name(leader))
	t.Logf("%s leads after %s was killed, within %v", c.Name(now), c.Name(leader), time.Since(start).Round(time.Millisecond))
}
