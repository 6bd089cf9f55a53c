package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	return StartRedisCluster(t, ClusterOptions{}).Client
}

// ClusterOptions configures StartRedisCluster.
type ClusterOptions struct {
	// Replicas is the number of replicas of each master. Default 0.
	Replicas int
	// NodeTimeout is the nodes' cluster-node-timeout: how long a master
	// may be unreachable before its replica takes over. Default 15 s,
	// Redis's own.
	NodeTimeout time.Duration
}

// Cluster is a Redis Cluster a test started.
type Cluster struct {
	// Client reaches the cluster; it is closed when the test ends.
	Client *redis.ClusterClient
	// Addrs lists every node, masters first as created.
	Addrs []string

	t     testing.TB
	kills map[string]func()
}

// StartRedisCluster starts a Redis Cluster of three masters, each with
// opts.Replicas replicas, the way RedisCluster does, and waits until every
// replica is in sync with its master.
func StartRedisCluster(t testing.TB, opts ClusterOptions) *Cluster {
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

	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout+10*time.Second*time.Duration(opts.Replicas))
	defer cancel()
	dir := t.TempDir()
	ports := clusterPorts(t, clusterMasters*(1+opts.Replicas))
	cl := &Cluster{Addrs: make([]string, len(ports)), t: t, kills: map[string]func(){}}
	for i, port := range ports {
		addr, kill := startClusterNode(ctx, t, server, filepath.Join(dir, "node"+strconv.Itoa(i)), port, opts.NodeTimeout)
		cl.Addrs[i], cl.kills[addr] = addr, kill
	}

	args := append([]string{"--cluster", "create"}, cl.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create %s: %v\n%s", strings.Join(cl.Addrs, " "), err, out)
	}
	for _, addr := range cl.Addrs {
		waitClusterOK(ctx, t, addr)
	}
	if opts.Replicas > 0 {
		waitReplicasInSync(ctx, t, cl.Addrs, opts.Replicas)
	}

	cl.Client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { cl.Client.Close() })
	return cl
}

// Kill kills the node at addr with SIGKILL, as a crash would.
func (c *Cluster) Kill(addr string) {
	c.t.Helper()
	kill, ok := c.kills[addr]
	if !ok {
		c.t.Fatalf("no node %s in the cluster", addr)
	}
	kill()
}

// Masters returns the address of every master that serves slots, as the
// node at via sees them; a master marked failed is left out.
func (c *Cluster) Masters(ctx context.Context, via string) ([]string, error) {
	n := redis.NewClient(&redis.Options{Addr: via, MaxRetries: -1})
	defer n.Close()
	nodes, err := n.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var masters []string
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		masters = append(masters, addr)
	}
	return masters, nil
}

// ReplicaOf returns the address of a replica of the master at addr, as the
// node at addr sees it.
func (c *Cluster) ReplicaOf(ctx context.Context, addr string) (string, error) {
	n := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer n.Close()
	nodes, err := n.ClusterNodes(ctx).Result()
	if err != nil {
		return "", err
	}
	var masterID string
	lines := strings.Split(strings.TrimSpace(nodes), "\n")
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 2 && strings.Contains(f[2], "myself") {
			masterID = f[0]
		}
	}
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 3 && strings.Contains(f[2], "slave") && f[3] == masterID {
			replica, _, _ := strings.Cut(f[1], "@")
			return replica, nil
		}
	}
	return "", fmt.Errorf("master %s has no replica", addr)
}

// WaitFailover waits until a replica of the killed master serves its
// slots, as the node at via sees it, and the cluster is whole again
// (cluster_state:ok), and returns the new master's address.
func (c *Cluster) WaitFailover(ctx context.Context, killed, via string) string {
	c.t.Helper()
	for {
		masters, err := c.Masters(ctx, via)
		if err == nil && len(masters) == clusterMasters && !slices.Contains(masters, killed) {
			n := redis.NewClient(&redis.Options{Addr: via, MaxRetries: -1})
			info, err := n.ClusterInfo(ctx).Result()
			n.Close()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				for _, m := range masters {
					if !slices.Contains(c.Addrs[:clusterMasters], m) {
						return m
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("no replica took over from %s: %v (masters %v, %v)", killed, ctx.Err(), masters, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitReplicasInSync waits until every master reports its replicas
// connected and every replica reports its link to the master up.
func waitReplicasInSync(ctx context.Context, t testing.TB, addrs []string, replicas int) {
	t.Helper()
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		for {
			info, err := c.Info(ctx, "replication").Result()
			if err == nil && (strings.Contains(info, "role:master") && strings.Contains(info, "connected_slaves:"+strconv.Itoa(replicas)) ||
				strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up")) {
				break
			}
			select {
			case <-ctx.Done():
				c.Close()
				t.Fatalf("Redis Cluster node %s: replication not in sync: %v\n%s", addr, ctx.Err(), info)
			case <-time.After(20 * time.Millisecond):
			}
		}
		c.Close()
	}
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
// files in dir, waits until it answers PING and returns its address and a
// function that kills it. The process is killed when the test ends.
func startClusterNode(ctx context.Context, t testing.TB, server, dir string, port int, nodeTimeout time.Duration) (string, func()) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "redis.log")
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", logPath,
	}
	if nodeTimeout > 0 {
		args = append(args, "--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10))
	}
	cmd := exec.Command(server, args...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server on port %d: %v", port, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
	}
	t.Cleanup(kill)

	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return addr, kill
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
