// Package capacitybench is scenario 11 of the benchmark: what one unit of
// each tier that the other scenarios do not cover sustains on this
// machine, for the capacity model of docs/scaling.md. It measures a Redis
// shard (the projection commit and a raw pipelined HSET, on a
// redis-server of its own, with that server's CPU per document), the
// memory a read-model document takes in Redis, and a broker node (NATS
// JetStream and RabbitMQ) carrying the log from a watermillbus.Relay to a
// watermillbus.Source, against each broker's raw client. Appends per
// primary come from scenarios 1 and 2, events per projection worker from
// scenario 5.
package capacitybench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/eventfold/eventfold/bench/harness"
	"github.com/eventfold/eventfold/internal/testenv"
)

// Scenario is the capacity scenario. It implements harness.Scenario.
type Scenario struct {
	// Events is how many events go through a broker per measurement with
	// one event per message; the envelope cells carry ten times as many.
	// Default 10000.
	Events int
	// Documents is how many documents the memory cell loads. Default
	// 100000.
	Documents int
	// Committers is how many projection workers commit to the Redis shard
	// at once. Default 4.
	Committers int
	// Consumers is how many projections read the stream of the NATS
	// fan-out cell, each through a durable consumer of its own. Default 8.
	Consumers int
	// NATSURL and AMQPURL are the brokers; defaults
	// EVENTFOLD_TEST_NATS_URL and EVENTFOLD_TEST_AMQP_URL, then
	// 127.0.0.1:4222 and guest@127.0.0.1:5672.
	NATSURL, AMQPURL string
}

var _ harness.Scenario = Scenario{}

// ID implements harness.Scenario.
func (Scenario) ID() int { return 11 }

// Name implements harness.Scenario.
func (Scenario) Name() string { return "capacity" }

// Title implements harness.Scenario.
func (Scenario) Title() string {
	return "capacity of a Redis shard and a broker node, memory per document"
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (s Scenario) withDefaults() Scenario {
	if s.Events <= 0 {
		s.Events = 10_000
	}
	if s.Documents <= 0 {
		s.Documents = 100_000
	}
	if s.Committers <= 0 {
		s.Committers = 4
	}
	if s.Consumers <= 0 {
		s.Consumers = 8
	}
	if s.NATSURL == "" {
		s.NATSURL = envOr("EVENTFOLD_TEST_NATS_URL", "nats://127.0.0.1:4222")
	}
	if s.AMQPURL == "" {
		s.AMQPURL = envOr("EVENTFOLD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
	}
	return s
}

// Setup implements harness.Scenario: it starts a redis-server of its own
// and checks that both brokers answer.
func (s Scenario) Setup(ctx context.Context, env *harness.Env) (*harness.Plan, error) {
	s = s.withDefaults()
	srv, err := testenv.StartRedisServer(ctx)
	if err != nil {
		return nil, err
	}
	shard, err := newShard(ctx, srv)
	if err != nil {
		srv.Close()
		return nil, err
	}
	brokers := &brokers{natsURL: s.NATSURL, amqpURL: s.AMQPURL, prefix: "eventfold_bench_capacity_" + env.RunID()}
	if err := brokers.check(ctx); err != nil {
		shard.close()
		srv.Close()
		return nil, err
	}
	cells := []harness.Cell{shard.commitCell(s.Committers), shard.memoryCell(s.Documents)}
	for _, b := range []string{brokerNATS, brokerAMQP} {
		for _, per := range []int{1, 100} {
			cells = append(cells, brokers.cell(flow{broker: b, perMessage: per, events: s.Events * min(per, 10), consumers: 1}))
		}
	}
	// A node's fan-out: one stream read by several projections.
	cells = append(cells, brokers.cell(flow{broker: brokerNATS, perMessage: 100, events: s.Events * 10, consumers: s.Consumers}))
	return &harness.Plan{
		Cells: cells,
		Close: func(ctx context.Context) error {
			err := brokers.cleanUp(ctx)
			shard.close()
			srv.Close()
			return err
		},
	}, nil
}

// procCPU returns the user and system CPU time of process pid in clock
// ticks (100 per second on Linux).
func procCPU(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields count from after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("capacitybench: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("capacitybench: /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("capacitybench: /proc/%d/stat: bad CPU times", pid)
	}
	return utime + stime, nil
}
