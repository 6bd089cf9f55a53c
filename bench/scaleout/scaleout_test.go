// Package scaleout measures how the projection of one read model spread
// over a Redis Cluster (projection.Config.Spread) scales with the number of
// worker processes sharing its partitions.
package scaleout

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

const (
	streams    = 24000 // written round-robin, so every batch touches many documents
	partitions = 6     // of the spread read model: two per master
	batchSize  = 200
	workerEnv  = "EVENTFOLD_SCALEOUT_WORKER"
)

// measuring is set to run the measurement; without it the test checks, on
// a small log and fewer runs, that the measurement still works.
var measuring = os.Getenv("EVENTFOLD_SCALEOUT") == "1"

// events is the size of the log every run projects. Worker processes
// inherit the environment, so they build the same log.
var events = map[bool]int{true: 240000, false: 6000}[measuring]

type tally struct {
	Count int `json:"count"`
	Sum   int `json:"sum"`
}

var tallies = readmodel.Model[tally]{}

// project is the measured projection: one document per stream, read and
// written for every event.
func project(version string) *projection.Projection {
	p := projection.New("scaleout", version, nil)
	p.On("Added", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		t, _, err := projection.Load(ctx, tx, tallies, rec.StreamID)
		if err != nil {
			return err
		}
		t.Count++
		t.Sum += len(rec.Data)
		return projection.Store(tx, tallies, rec.StreamID, t)
	})
	return p
}

// buildLog appends the same log in every process: memstore's positions
// depend only on the order of appends.
func buildLog(ctx context.Context) (*memstore.Store, eventstore.Position, error) {
	es := memstore.New(nil)
	var head eventstore.Position
	for i := range events {
		res, err := es.Append(ctx, fmt.Sprintf("s-%05d", i%streams), eventstore.Any,
			[]eventstore.Event{{Type: "Added", Data: []byte(`{"n":1}`)}})
		if err != nil {
			return nil, head, err
		}
		head = res.Position
	}
	return es, head, nil
}

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		if err := worker(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// workerArgs is what the measuring test hands a worker process.
type workerArgs struct {
	Addrs      []string `json:"addrs"`
	Prefix     string   `json:"prefix"`
	Version    string   `json:"version"`
	Partitions []int    `json:"partitions"`
}

// worker builds the log, says "ready", waits for a line on stdin, then runs
// its partitions until each has applied the whole log.
func worker() error {
	var args workerArgs
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &args); err != nil {
		return err
	}
	ctx := context.Background()
	es, head, err := buildLog(ctx)
	if err != nil {
		return err
	}
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: args.Addrs})
	defer client.Close()
	store, err := redisstore.New(client, &redisstore.Options{Prefix: args.Prefix})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var runners []*projection.Runner
	for _, k := range args.Partitions {
		r, err := projection.NewRunner(projection.Config{Projection: project(args.Version), Source: projection.LogSource(es, nil),
			Store: store, Partitions: partitions, Partition: k, Spread: true, BatchSize: batchSize})
		if err != nil {
			return err
		}
		runners = append(runners, r)
		go r.Run(runCtx) //nolint:errcheck // stopped below
	}
	deadline := time.Now().Add(5 * time.Minute)
	for _, r := range runners {
		for r.Status().Position.Before(head) {
			if time.Now().After(deadline) {
				return fmt.Errorf("partition %d stuck at %v of %v: %+v", r.Status().Partition, r.Status().Position, head, r.Status())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// TestScaleOut projects the same log into a read model spread over 6
// partitions on a three-master cluster, with 1, 2 and 3 worker processes
// (GOMAXPROCS=1 each, one core's worth of projector) sharing the
// partitions, three times in the order 1 2 3 3 2 1 1 2 3, and reports each worker
// count's best throughput as a ratio to one worker's. It measures; it asserts
// nothing about speed. Without EVENTFOLD_SCALEOUT=1 it projects a small log
// once per worker count, to check that the measurement runs. Measure alone:
//
//	EVENTFOLD_SCALEOUT=1 go test -run TestScaleOut -v ./scaleout/
func TestScaleOut(t *testing.T) {
	order := []int{1, 2, 3, 3, 2, 1, 1, 2, 3}
	if !measuring {
		order = []int{1, 2, 3}
	}
	cl := testenv.StartRedisCluster(t, testenv.ClusterOptions{})
	took := map[int][]time.Duration{}
	for run, workers := range order {
		d := measure(t, cl.Addrs, workers, fmt.Sprintf("r%d", run))
		took[workers] = append(took[workers], d)
		t.Logf("%d worker(s): %d events in %s, %.0f events/s", workers, events, d.Round(time.Millisecond), float64(events)/d.Seconds())
	}
	base := best(took[1])
	for w := 1; w <= 3; w++ {
		d := best(took[w])
		t.Logf("SCALEOUT workers=%d best=%s events/s=%.0f ratio=%.2f", w, d.Round(time.Millisecond), float64(events)/d.Seconds(), base.Seconds()/d.Seconds())
	}
}

func best(ds []time.Duration) time.Duration {
	b := ds[0]
	for _, d := range ds[1:] {
		b = min(b, d)
	}
	return b
}

// measure runs workers processes over the partitions and returns the time
// from the start signal until every partition has applied the whole log.
func measure(t *testing.T, addrs []string, workers int, version string) time.Duration {
	t.Helper()
	type proc struct {
		cmd   *exec.Cmd
		stdin interface{ Write([]byte) (int, error) }
		done  chan error
	}
	var procs []proc
	for w := range workers {
		var parts []int
		for k := w; k < partitions; k += workers {
			parts = append(parts, k)
		}
		args, _ := json.Marshal(workerArgs{Addrs: addrs, Prefix: "scaleout:", Version: version, Partitions: parts})
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), workerEnv+"="+string(args), "GOMAXPROCS=1")
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			t.Fatalf("worker %d: %q, %v", w, line, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		procs = append(procs, proc{cmd: cmd, stdin: stdin, done: done})
	}
	start := time.Now()
	for _, p := range procs {
		if _, err := p.stdin.Write([]byte("go\n")); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range procs {
		if err := <-p.done; err != nil {
			t.Fatalf("worker %d of %d: %v", i, workers, err)
		}
	}
	return time.Since(start)
}
