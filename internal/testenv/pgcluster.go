package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgBinDir is where Debian's postgresql-15 package installs initdb and
// postgres.
const pgBinDir = "/usr/lib/postgresql/15/bin"

// pgClusterTimeout bounds each wait of PGCluster: initdb, and the server
// accepting connections after a start or a restart.
const pgClusterTimeout = 30 * time.Second

// PGServer is a PostgreSQL cluster of its own (one postmaster and its data
// directory) started for one test by PGCluster. It is separate from the
// machine's server on 5432: its own port, data directory and processes.
type PGServer struct {
	t       testing.TB
	bin     string
	dir     string // data directory; also holds the Unix socket and the log
	port    int
	cred    *syscall.Credential
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	cleanup sync.Once
}

// PGCluster initialises a PostgreSQL cluster in a temporary directory and
// starts it on a free port of 127.0.0.1, with trust authentication and a
// database "eventfold". fsync is off: a SIGKILL (Kill) keeps every
// committed transaction, since the WAL is written before a commit returns;
// only a crash of the machine would lose them. The server is killed and its directory
// removed when the test ends; the kernel kills it if the test binary dies.
// PostgreSQL refuses to run as root, so under root the cluster runs as the
// "postgres" user.
//
// When the PostgreSQL 15 binaries are not installed the test is skipped,
// or fails if services are required (CI=true or
// EVENTFOLD_REQUIRE_SERVICES=1).
func PGCluster(t testing.TB) *PGServer {
	t.Helper()
	bin := pgBinDir
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		if Required() {
			t.Fatalf("a PostgreSQL cluster is required (CI=true or EVENTFOLD_REQUIRE_SERVICES=1) but cannot be started: %v", err)
		}
		t.Skipf("cannot start a PostgreSQL cluster, skipping (install postgresql-15, or set CI=true to fail instead): %v", err)
	}
	// Not t.TempDir: its parent is private to root, and the server may run
	// as another user.
	dir, err := os.MkdirTemp("", "eventfold-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	s := &PGServer{t: t, bin: bin, dir: dir, port: freePorts(t, 1)[0]}
	t.Cleanup(func() {
		s.Kill()
		_ = os.RemoveAll(dir)
	})
	s.cred = pgCredential(t, dir)
	s.initdb()
	s.Start()
	return s
}

// pgCredential returns the user to run PostgreSQL as (nil: the test's own)
// and hands it dir.
func pgCredential(t testing.TB, dir string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("PostgreSQL cannot run as root and there is no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func (s *PGServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: s.cred}
	cmd.Dir = s.dir
	return cmd
}

func (s *PGServer) initdb() {
	s.t.Helper()
	cmd := s.command("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("initdb: %v\n%s", err, out)
	}
}

func (s *PGServer) data() string { return filepath.Join(s.dir, "data") }

// Start starts the server (again, after Kill) and waits until it accepts
// connections, creating the database "eventfold" on the first start.
func (s *PGServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		s.t.Fatalf("PostgreSQL on port %d is already running", s.port)
	}
	logFile, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.mu.Unlock()
		s.t.Fatal(err)
	}
	cmd := s.command("postgres", "-D", s.data(), "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=60", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		logFile.Close()
		s.t.Fatalf("start postgres: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	s.waitReady()
}

func (s *PGServer) waitReady() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgClusterTimeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		p, err := pgxpool.New(ctx, s.url("postgres"))
		if err == nil {
			_, err = p.Exec(ctx, "SELECT 1")
			if err == nil {
				var exists bool
				err = p.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'eventfold')").Scan(&exists)
				if err == nil && !exists {
					_, err = p.Exec(ctx, "CREATE DATABASE eventfold")
				}
			}
			p.Close()
			if err == nil {
				return
			}
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	s.t.Fatalf("PostgreSQL on port %d did not accept connections within %s: %v\n%s", s.port, pgClusterTimeout, last, log)
}

// Kill ends the postmaster and every backend at once with SIGKILL, as a
// crash of the machine would, and waits until they are gone. The data
// directory stays for Start, which then runs crash recovery. Killing a
// stopped server does nothing.
func (s *PGServer) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	// Each backend makes itself a process group leader, so killing the
	// postmaster's group is not enough: kill its children by PID too.
	pids := append(childrenOf(s.cmd.Process.Pid), s.cmd.Process.Pid)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	<-s.exited
	waitGone(pids)
	s.cmd = nil
}

// childrenOf returns the PIDs of the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _ := procState(child); ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// procState returns pid's parent and state letter from /proc/<pid>/stat;
// state is "" when the process is gone.
func procState(pid int) (ppid int, state string) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, ""
	}
	// The command name, in parentheses, may hold spaces: the fields
	// after its closing parenthesis are state, ppid, ...
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, ""
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0]
}

// waitGone waits until every process of pids has exited (a zombie counts
// as exited), so that a restart finds no backend still attached to the old
// shared memory.
func waitGone(pids []int) {
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for time.Now().Before(deadline) {
			if _, state := procState(pid); state == "" || state == "Z" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// URL returns a connection string for the database "eventfold".
func (s *PGServer) URL() string { return s.url("eventfold") }

func (s *PGServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port returns the server's TCP port.
func (s *PGServer) Port() int { return s.port }

// Pool returns a connection pool to the database "eventfold", closed when
// the test ends (before the server is killed).
func (s *PGServer) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgClusterTimeout)
	defer cancel()
	p, err := pgxpool.New(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
