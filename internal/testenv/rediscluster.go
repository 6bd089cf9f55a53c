package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterMasters is the number of redis-server processes RedisCluster
// starts: three masters, the smallest cluster redis-cli will create.
const clusterMasters = 3

// clusterStartTimeout bounds everything RedisCluster waits for: the servers
// answering, redis-cli assigning the slots, and every node reporting
// cluster_state:ok.
const clusterStartTimeout = 15 * time.Second

// RedisCluster starts a Redis Cluster of three masters, without replicas,
// for one test and returns a client for it. The redis-server processes
// listen on free ports of 127.0.0.1, keep their files in t.TempDir() and
// persist nothing; they are killed when the test ends, after the client
// is closed. Each call starts its own cluster, so a test that needs one
// several times should share it between its subtests.
//
// When redis-server or redis-cli is not installed the test is skipped, or
// fails if services are required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1).
func RedisCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	var cli string
	if err == nil {
		cli, err = exec.LookPath("redis-cli")
	}
	if err != nil {
		if Required() {
			t.Fatalf("a Redis Cluster is required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1) but cannot be started: %v", err)
		}
		t.Skipf("cannot start a Redis Cluster, skipping (install redis-server and redis-cli, or set CI=true to fail instead): %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	dir := t.TempDir()
	ports := clusterPorts(t, clusterMasters)
	addrs := make([]string, len(ports))
	for i, port := range ports {
		addrs[i] = startClusterNode(ctx, t, server, filepath.Join(dir, "node"+strconv.Itoa(i)), port)
	}

	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create %s: %v\n%s", strings.Join(addrs, " "), err, out)
	}
	for _, addr := range addrs {
		waitClusterOK(ctx, t, addr)
	}

	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	return c
}

// clusterPorts returns n ports P on 127.0.0.1 such that both P and P+10000,
// the node's cluster bus port, are free. It holds every port open until all
// are chosen, so the n are distinct.
func clusterPorts(t testing.TB, n int) []int {
	t.Helper()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries == 200 {
			t.Fatalf("found only %d of %d free port pairs (P, P+10000) on 127.0.0.1", len(ports), n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		held = append(held, bus)
		ports = append(ports, port)
	}
	return ports
}

// startClusterNode starts a cluster-enabled redis-server on port with its
// files in dir, waits until it answers PING and returns its address. The
// process is killed when the test ends.
func startClusterNode(ctx context.Context, t testing.TB, server, dir string, port int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "redis.log")
	cmd := exec.Command(server,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", logPath,
	)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server on port %d: %v", port, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return addr
		}
		select {
		case werr := <-exited:
			exited <- werr // for the cleanup
			log, _ := os.ReadFile(logPath)
			t.Fatalf("redis-server on port %d exited: %v\n%s", port, werr, log)
		case <-ctx.Done():
			t.Fatalf("redis-server on port %d did not answer within %s: %v", port, clusterStartTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitClusterOK waits until the node at addr reports cluster_state:ok.
func waitClusterOK(ctx context.Context, t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return
		}
		if err == nil {
			line, _, _ := strings.Cut(strings.TrimSpace(info), "\n")
			err = fmt.Errorf("CLUSTER INFO says %q", strings.TrimSpace(line))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Redis Cluster node %s not ready within %s: %v", addr, clusterStartTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
