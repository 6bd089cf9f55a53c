package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// natsServerPath is where Debian's nats-server package installs the server.
const natsServerPath = "/usr/sbin/nats-server"

// natsClusterTimeout bounds every wait of NATSCluster: for the servers to
// answer, for a meta leader, and for a restarted node to catch up.
const natsClusterTimeout = 30 * time.Second

// NATSServers is a NATS JetStream cluster started for one test by
// NATSCluster. Its nodes are numbered from 0; node i is named "n<i>", the
// name JetStream reports as a stream's or consumer's leader.
type NATSServers struct {
	t     testing.TB
	bin   string
	nodes []*natsNode
}

type natsNode struct {
	name                     string
	dir                      string
	port, clusterPort, mPort int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives the process's exit, once
}

// NATSCluster starts n nats-server processes with JetStream, clustered
// with routes to one another, on free ports of 127.0.0.1, each with its own
// store directory under t.TempDir(), and waits until every node knows the
// JetStream meta leader. The processes are killed when the test ends, or
// when the test binary dies.
//
// When nats-server is not installed the test is skipped, or fails if
// services are required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1).
func NATSCluster(t testing.TB, n int) *NATSServers {
	t.Helper()
	bin, err := exec.LookPath(natsServerPath)
	if err != nil {
		bin, err = exec.LookPath("nats-server")
	}
	if err != nil {
		if Required() {
			t.Fatalf("a NATS cluster is required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1) but cannot be started: %v", err)
		}
		t.Skipf("cannot start a NATS cluster, skipping (install nats-server, or set CI=true to fail instead): %v", err)
	}
	dir := t.TempDir()
	ports := freePorts(t, 3*n)
	c := &NATSServers{t: t, bin: bin}
	for i := range n {
		c.nodes = append(c.nodes, &natsNode{
			name: "n" + strconv.Itoa(i), dir: filepath.Join(dir, "n"+strconv.Itoa(i)),
			port: ports[3*i], clusterPort: ports[3*i+1], mPort: ports[3*i+2],
		})
	}
	for i := range c.nodes {
		c.writeConfig(i)
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Kill(i)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), natsClusterTimeout)
	defer cancel()
	for i := range c.nodes {
		c.waitMetaLeader(ctx, i)
	}
	return c
}

// URLs returns the client URL of every node.
func (c *NATSServers) URLs() []string {
	urls := make([]string, len(c.nodes))
	for i := range c.nodes {
		urls[i] = c.URL(i)
	}
	return urls
}

// URL returns node i's client URL.
func (c *NATSServers) URL(i int) string {
	return "nats://127.0.0.1:" + strconv.Itoa(c.nodes[i].port)
}

// Name returns node i's server name.
func (c *NATSServers) Name(i int) string { return c.nodes[i].name }

// Index returns the number of the node called name, or -1.
func (c *NATSServers) Index(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// Kill ends node i with SIGKILL, as a crash would, and waits for it to
// exit. Its store directory stays for Restart. Killing a stopped node does
// nothing.
func (c *NATSServers) Kill(i int) {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

// Restart starts node i again on its ports and store directory after Kill,
// and waits until it reports healthy: back in the cluster, its JetStream
// assets caught up.
func (c *NATSServers) Restart(i int) {
	c.t.Helper()
	c.start(i)
	ctx, cancel := context.WithTimeout(context.Background(), natsClusterTimeout)
	defer cancel()
	c.waitHealthy(ctx, i)
}

func (c *NATSServers) writeConfig(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	var routes []string
	for _, o := range c.nodes {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", o.clusterPort))
	}
	conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster {
  name: eventfold
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, n.name, n.port, n.mPort, filepath.Join(n.dir, "store"), n.clusterPort, strings.Join(routes, ", "))
	if err := os.WriteFile(filepath.Join(n.dir, "nats.conf"), []byte(conf), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *NATSServers) start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		c.t.Fatalf("nats-server %s is already running", n.name)
	}
	cmd := exec.Command(c.bin, "-c", filepath.Join(n.dir, "nats.conf"), "-l", filepath.Join(n.dir, "nats.log"))
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start nats-server %s: %v", n.name, err)
	}
	n.cmd, n.exited = cmd, make(chan error, 1)
	go func() { n.exited <- cmd.Wait() }()
}

// jsz is the part of the monitoring endpoint /jsz that tells whether a
// node sees a JetStream meta leader.
type jsz struct {
	Meta *struct {
		Leader string `json:"leader"`
	} `json:"meta_cluster"`
}

// waitMetaLeader waits until node i names the JetStream meta leader.
func (c *NATSServers) waitMetaLeader(ctx context.Context, i int) {
	c.t.Helper()
	c.poll(ctx, i, "/jsz", func(body []byte) error {
		var z jsz
		if err := json.Unmarshal(body, &z); err != nil {
			return err
		}
		if z.Meta == nil || z.Meta.Leader == "" {
			return fmt.Errorf("no meta leader yet: %s", body)
		}
		return nil
	})
}

// waitHealthy waits until node i's /healthz answers 200.
func (c *NATSServers) waitHealthy(ctx context.Context, i int) {
	c.t.Helper()
	c.poll(ctx, i, "/healthz", func([]byte) error { return nil })
}

// poll GETs path from node i's monitoring port until it answers 200 and
// check accepts the body, failing the test if the node exits or ctx ends.
func (c *NATSServers) poll(ctx context.Context, i int, path string, check func([]byte) error) {
	c.t.Helper()
	n := c.nodes[i]
	url := fmt.Sprintf("http://127.0.0.1:%d%s", n.mPort, path)
	for {
		err := get(ctx, url, check)
		if err == nil {
			return
		}
		n.mu.Lock()
		exited := n.exited
		n.mu.Unlock()
		select {
		case werr := <-exited:
			exited <- werr // for Kill
			log, _ := os.ReadFile(filepath.Join(n.dir, "nats.log"))
			c.t.Fatalf("nats-server %s exited: %v\n%s", n.name, werr, log)
		case <-ctx.Done():
			c.t.Fatalf("nats-server %s: %s not ready within %s: %v", n.name, path, natsClusterTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func get(ctx context.Context, url string, check func([]byte) error) error {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return check(body)
}

// freePorts returns n distinct free ports of 127.0.0.1, holding each open
// until all are chosen.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
