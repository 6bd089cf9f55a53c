package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGBinDir is where Debian's postgresql-15 package installs the server
// binaries. EVENTFOLD_TEST_PG_BIN overrides it.
const PGBinDir = "/usr/lib/postgresql/15/bin"

// pgStartTimeout bounds each wait of a PGPair: for a server to accept
// connections, and for the standby to replay the primary's WAL.
const pgStartTimeout = 30 * time.Second

// PGPair is a PostgreSQL primary and a hot standby streaming from it, each
// a postgres process of its own on a free port of 127.0.0.1, with trust
// authentication for the superuser "postgres". Neither syncs to disk
// (fsync=off): they exist for one test run.
type PGPair struct {
	Primary *PGNode
	Standby *PGNode

	bin      string
	dir      string
	uid, gid uint32
	asOther  bool // run the servers as uid:gid (the test runs as root)
}

// PGNode is one server of a PGPair.
type PGNode struct {
	pair *PGPair
	name string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives the process's exit, once
}

// PGStandby starts a primary (initdb, wal_level=replica) and a hot
// standby made from it with pg_basebackup -R, in a temporary directory,
// and returns them once the standby accepts read-only connections. Both
// are stopped and their files removed when the test ends; they die with
// the test binary. Startup takes about a second. Each call starts its own
// pair, so a test that needs one several times should share it between its
// subtests; tests that stop the standby must not run in parallel with
// others using the same pair.
//
// As root it runs the servers as the postgres user, since PostgreSQL
// refuses to run as root. When the binaries are missing the test is
// skipped, or fails if services are required (CI=true or
// EVENTFOLD_REQUIRE_SERVICES=1).
func PGStandby(t testing.TB) *PGPair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
	defer cancel()
	p, err := StartPGPair(ctx)
	if errors.Is(err, errNoPostgres) {
		if Required() {
			t.Fatalf("a PostgreSQL standby is required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1) but cannot be started: %v", err)
		}
		t.Skipf("cannot start a PostgreSQL primary and standby, skipping (install postgresql-15, or set CI=true to fail instead): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

var errNoPostgres = errors.New("PostgreSQL server binaries not found")

// StartPGPair is PGStandby without a test: the caller must call Close.
func StartPGPair(ctx context.Context) (_ *PGPair, err error) {
	p := &PGPair{bin: envOr("EVENTFOLD_TEST_PG_BIN", PGBinDir)}
	for _, name := range []string{"initdb", "postgres", "pg_basebackup"} {
		if _, err := os.Stat(filepath.Join(p.bin, name)); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoPostgres, err)
		}
	}
	if os.Geteuid() == 0 {
		if err := p.usePostgresUser(); err != nil {
			return nil, err
		}
	}
	if p.dir, err = os.MkdirTemp("", "eventfold-pgpair-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.asOther {
		if err := os.Chown(p.dir, int(p.uid), int(p.gid)); err != nil {
			return nil, err
		}
	}
	ports, err := freePortList(2)
	if err != nil {
		return nil, err
	}
	p.Primary = &PGNode{pair: p, name: "primary", dir: filepath.Join(p.dir, "primary"), port: ports[0]}
	p.Standby = &PGNode{pair: p, name: "standby", dir: filepath.Join(p.dir, "standby"), port: ports[1]}
	if err := p.initPrimary(ctx); err != nil {
		return nil, err
	}
	if err := p.Primary.Start(ctx); err != nil {
		return nil, err
	}
	if err := p.run(ctx, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Primary.port), "-U", "postgres",
		"-D", p.Standby.dir, "-R", "-X", "stream", "-c", "fast"); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("port = %d\nunix_socket_directories = '%s'\n", p.Standby.port, p.Standby.dir)
	if err := appendFile(filepath.Join(p.Standby.dir, "postgresql.conf"), conf); err != nil {
		return nil, err
	}
	if err := p.Standby.Start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// usePostgresUser makes the pair run its servers as the postgres user.
func (p *PGPair) usePostgresUser() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return err
	}
	p.uid, p.gid, p.asOther = uint32(uid), uint32(gid), true
	return nil
}

// initPrimary creates the primary's cluster and configures it for
// streaming replication.
func (p *PGPair) initPrimary(ctx context.Context) error {
	if err := p.run(ctx, "initdb", "-D", p.Primary.dir, "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return err
	}
	conf := fmt.Sprintf(`listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 60
wal_level = replica
max_wal_senders = 4
wal_keep_size = '256MB'
hot_standby = on
fsync = off
full_page_writes = off
`, p.Primary.port, p.Primary.dir)
	if err := appendFile(filepath.Join(p.Primary.dir, "postgresql.conf"), conf); err != nil {
		return err
	}
	return appendFile(filepath.Join(p.Primary.dir, "pg_hba.conf"), "host replication all 127.0.0.1/32 trust\n")
}

// run runs one of the PostgreSQL binaries to completion.
func (p *PGPair) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	p.setUser(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return nil
}

func (p *PGPair) setUser(cmd *exec.Cmd) {
	if p.asOther {
		runAs(cmd, p.uid, p.gid)
	} else {
		dieWithParent(cmd)
	}
}

// Close stops both servers and removes their files.
func (p *PGPair) Close() {
	for _, n := range []*PGNode{p.Standby, p.Primary} {
		if n != nil {
			n.kill()
		}
	}
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

// WaitReplayed waits until the standby has replayed everything the
// primary had written when it was called.
func (p *PGPair) WaitReplayed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pgStartTimeout)
	defer cancel()
	var lsn string
	if err := queryOnce(ctx, p.Primary.URL(), "SELECT pg_current_wal_lsn()::text", &lsn); err != nil {
		return fmt.Errorf("primary's WAL position: %w", err)
	}
	for {
		var done bool
		err := queryOnce(ctx, p.Standby.URL(), "SELECT pg_last_wal_replay_lsn() >= '"+lsn+"'::pg_lsn", &done)
		if err == nil && done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("standby did not replay up to %s: %v", lsn, errors.Join(ctx.Err(), err))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// URL returns a connection string for the node's postgres database as the
// superuser.
func (n *PGNode) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", n.port)
}

// PID returns the postmaster's process ID, or 0 while the node is stopped.
func (n *PGNode) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Start starts the node's server and waits until it accepts connections
// (a standby: read-only ones, once its replay is consistent).
func (n *PGNode) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pgStartTimeout)
	defer cancel()
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return fmt.Errorf("%s is already running", n.name)
	}
	logFile, err := os.OpenFile(filepath.Join(n.pair.dir, n.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	cmd := exec.Command(filepath.Join(n.pair.bin, "postgres"), "-D", n.dir)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	n.pair.setUser(cmd)
	err = cmd.Start()
	logFile.Close()
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	n.cmd, n.exited = cmd, make(chan error, 1)
	exited := n.exited
	go func() { exited <- cmd.Wait() }()
	n.mu.Unlock()

	for {
		var one int
		err := queryOnce(ctx, n.URL(), "SELECT 1", &one)
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			exited <- werr // for Stop
			n.mu.Lock()
			n.cmd = nil
			n.mu.Unlock()
			log, _ := os.ReadFile(filepath.Join(n.pair.dir, n.name+".log"))
			return fmt.Errorf("%s exited: %v\n%s", n.name, werr, log)
		case <-ctx.Done():
			return fmt.Errorf("%s did not accept connections: %v", n.name, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop shuts the node's server down (PostgreSQL's fast shutdown: open
// sessions are ended) and waits for it to exit. Its files stay for Start.
// Stopping a stopped node does nothing.
func (n *PGNode) Stop() { n.signal(syscall.SIGINT) }

// kill ends the server at once, children included.
func (n *PGNode) kill() { n.signal(syscall.SIGQUIT) }

func (n *PGNode) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(pgStartTimeout):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}

// queryOnce runs sql on a connection of its own and scans one value.
func queryOnce(ctx context.Context, url, sql string, dest any) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(cctx, sql).Scan(dest)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// freePortList returns n distinct free ports of 127.0.0.1.
func freePortList(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
