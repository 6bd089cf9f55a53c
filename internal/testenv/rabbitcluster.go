package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Where Debian's rabbitmq-server package installs the scripts that run a
// node as the calling user (the ones in /usr/sbin switch to "rabbitmq").
const (
	rabbitServerPath = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	rabbitCtlPath    = "/usr/lib/rabbitmq/bin/rabbitmqctl"
)

// rabbitClusterTimeout bounds each wait of RabbitMQCluster: a node booting,
// a node joining.
const rabbitClusterTimeout = 90 * time.Second

// RabbitServers is a RabbitMQ cluster started for one test by
// RabbitMQCluster. Its nodes are numbered from 0.
type RabbitServers struct {
	t      testing.TB
	dir    string
	env    []string // shared by every node and rabbitmqctl call
	epmd   *exec.Cmd
	nodes  []*rabbitNode
	closed sync.Once
}

type rabbitNode struct {
	name           string // rabbit<i>@localhost
	dir            string
	port, distPort int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// RabbitMQCluster starts n RabbitMQ nodes on free ports of 127.0.0.1, with
// their own epmd, Erlang cookie and data directories, joins them into one
// cluster and waits until every node runs. The machine's own RabbitMQ (on
// 5672, with the system's epmd) is left alone. The nodes and their epmd
// are killed when the test ends. Forming a three-node cluster takes about
// twenty seconds.
//
// When rabbitmq-server is not installed the test is skipped, or fails if
// services are required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1).
func RabbitMQCluster(t testing.TB, n int) *RabbitServers {
	t.Helper()
	epmd, err := exec.LookPath("epmd")
	if err == nil {
		_, err = os.Stat(rabbitServerPath)
	}
	if err != nil {
		if Required() {
			t.Fatalf("a RabbitMQ cluster is required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1) but cannot be started: %v", err)
		}
		t.Skipf("cannot start a RabbitMQ cluster, skipping (install rabbitmq-server, or set CI=true to fail instead): %v", err)
	}
	dir, err := os.MkdirTemp("", "eventfold-rabbit-")
	if err != nil {
		t.Fatal(err)
	}
	c := &RabbitServers{t: t, dir: dir}
	t.Cleanup(c.close)
	ports := freePorts(t, 2*n+1)
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".erlang.cookie"), []byte(randomHex(16)), 0o400); err != nil {
		t.Fatal(err)
	}
	c.env = append(os.Environ(), "HOME="+home, "ERL_EPMD_PORT="+strconv.Itoa(ports[2*n]))
	c.epmd = exec.Command(epmd, "-port", strconv.Itoa(ports[2*n]), "-address", "127.0.0.1")
	c.epmd.Env = c.env
	dieWithParent(c.epmd)
	if err := c.epmd.Start(); err != nil {
		t.Fatalf("start epmd: %v", err)
	}
	for i := range n {
		c.nodes = append(c.nodes, &rabbitNode{name: "rabbit" + strconv.Itoa(i) + "@localhost",
			dir: filepath.Join(dir, "n"+strconv.Itoa(i)), port: ports[2*i], distPort: ports[2*i+1]})
		c.writeConfig(i)
	}
	for i := range c.nodes {
		c.start(i)
	}
	for i := range c.nodes {
		c.awaitStartup(i)
	}
	for i := 1; i < n; i++ {
		c.ctl(i, "stop_app")
		c.ctl(i, "join_cluster", c.nodes[0].name)
		c.ctl(i, "start_app")
	}
	return c
}

// URL returns node i's AMQP URL (user guest, allowed from loopback).
func (c *RabbitServers) URL(i int) string {
	return "amqp://guest:guest@127.0.0.1:" + strconv.Itoa(c.nodes[i].port) + "/"
}

// Name returns node i's Erlang node name, as RabbitMQ reports it.
func (c *RabbitServers) Name(i int) string { return c.nodes[i].name }

// Index returns the number of the node called name, or -1.
func (c *RabbitServers) Index(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// Ctl runs rabbitmqctl against node i and returns its output, failing the
// test on an error.
func (c *RabbitServers) Ctl(i int, args ...string) string {
	c.t.Helper()
	return c.ctl(i, args...)
}

// Kill ends node i with SIGKILL, as a crash would, and waits for it to
// exit. Its data directory stays for Restart. Killing a stopped node does
// nothing.
func (c *RabbitServers) Kill(i int) {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL) // the script, the VM and its helpers
	<-n.exited
	n.cmd = nil
}

// Restart starts node i again after Kill and waits until it runs, back in
// the cluster.
func (c *RabbitServers) Restart(i int) {
	c.t.Helper()
	c.start(i)
	c.awaitStartup(i)
}

// awaitStartup waits until node i has booted: rabbitmqctl await_startup
// fails at once while the node is not yet registered with epmd, so it is
// tried again until the timeout.
func (c *RabbitServers) awaitStartup(i int) {
	c.t.Helper()
	deadline := time.Now().Add(rabbitClusterTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), rabbitClusterTimeout)
		cmd := exec.CommandContext(ctx, rabbitCtlPath, "-n", c.nodes[i].name, "await_startup")
		cmd.Env = c.env
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(c.nodes[i].dir, "stdout.log"))
			c.t.Fatalf("RabbitMQ node %s did not start within %s: %v\n%s\nnode output:\n%s", c.nodes[i].name, rabbitClusterTimeout, err, out, log)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (c *RabbitServers) close() {
	c.closed.Do(func() {
		for i := range c.nodes {
			c.Kill(i)
		}
		if c.epmd != nil && c.epmd.Process != nil {
			_ = c.epmd.Process.Kill()
			_ = c.epmd.Wait()
		}
		_ = os.RemoveAll(c.dir)
	})
}

func (c *RabbitServers) writeConfig(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	files := map[string]string{
		"rabbitmq.conf":   fmt.Sprintf("loopback_users.guest = true\nlisteners.tcp.default = 127.0.0.1:%d\n", n.port),
		"enabled_plugins": "[].\n", // no management plugin: nothing else to listen
		"env.conf":        "",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(body), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

// nodeEnv is node i's environment: its name, ports and directories.
func (c *RabbitServers) nodeEnv(i int) []string {
	n := c.nodes[i]
	return append(append([]string(nil), c.env...),
		"RABBITMQ_NODENAME="+n.name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(n.port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(n.distPort),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(n.dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(n.dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(n.dir, "pid"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(n.dir, "rabbitmq"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(n.dir, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(n.dir, "enabled_plugins"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(n.dir, "env.conf"),
	)
}

func (c *RabbitServers) start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		c.t.Fatalf("RabbitMQ node %s is already running", n.name)
	}
	out, err := os.OpenFile(filepath.Join(n.dir, "stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(rabbitServerPath)
	cmd.Env = c.nodeEnv(i)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		c.t.Fatalf("start RabbitMQ node %s: %v", n.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(exited) }()
	n.cmd, n.exited = cmd, exited
}

func (c *RabbitServers) ctl(i int, args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rabbitClusterTimeout)
	defer cancel()
	args = append([]string{"-n", c.nodes[i].name}, args...)
	cmd := exec.CommandContext(ctx, rabbitCtlPath, args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.nodes[i].dir, "stdout.log"))
		c.t.Fatalf("rabbitmqctl %s: %v\n%s\nnode output:\n%s", strings.Join(args, " "), err, out, log)
	}
	return string(out)
}

// QuorumLeader returns the number of the node leading quorum queue name,
// as node tells, or -1 while it has none.
func QuorumLeader(t testing.TB, c *RabbitServers, node int, name string) int {
	t.Helper()
	out := c.ctl(node, "list_queues", "--quiet", "--no-table-headers", "name", "leader")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			return c.Index(f[1])
		}
	}
	return -1
}
