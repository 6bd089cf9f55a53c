package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	nc "github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	tallies "github.com/eventfold/eventfold/internal/tally"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

const chaosEnv = "EVENTFOLD_CHAOS"

func TestMain(m *testing.M) {
	if os.Getenv(chaosEnv) == "1" {
		// A chaos run must not pass by skipping: a missing service fails.
		os.Setenv("EVENTFOLD_REQUIRE_SERVICES", "1")
	}
	os.Exit(m.Run())
}

// requireChaos skips the test unless EVENTFOLD_CHAOS=1 (it fails instead
// where services are required, as under CI: make test leaves this package
// to make chaos), and then fails it unless every service answers on the
// addresses the restart commands use.
func requireChaos(t *testing.T) {
	t.Helper()
	chaosOnly(t, "it restarts PostgreSQL, Redis, NATS and RabbitMQ, which breaks tests running beside it")
	for _, c := range []struct{ name, url, hostport string }{
		{"EVENTFOLD_TEST_POSTGRES_URL", testenv.PostgresURL(), "127.0.0.1:5432"},
		{"EVENTFOLD_TEST_REDIS_URL", testenv.RedisURL(), "127.0.0.1:6379"},
		{"EVENTFOLD_TEST_NATS_URL", natsURL(), "127.0.0.1:4222"},
		{"EVENTFOLD_TEST_AMQP_URL", amqpURL(), "127.0.0.1:5672"},
	} {
		u, err := url.Parse(c.url)
		if err != nil || u.Host != c.hostport {
			t.Fatalf("%s=%q: the chaos tests restart the local server on %s and need it there", c.name, c.url, c.hostport)
		}
	}
	for _, s := range []service{postgresService, redisService, natsService, rabbitService} {
		if err := s.probe(); err != nil {
			t.Fatalf("%s is required by the chaos tests but does not answer: %v", s.name, err)
		}
	}
}

// chaosOnly skips the test unless EVENTFOLD_CHAOS=1 (it fails instead
// where services are required), saying why it is a chaos test. A test that
// runs its own servers and restarts none of the shared ones calls it
// instead of requireChaos.
func chaosOnly(t *testing.T, why string) {
	t.Helper()
	if os.Getenv(chaosEnv) != "1" {
		if testenv.Required() {
			t.Fatalf("chaos test run without %s=1 where services are required: run it alone with `make chaos`", chaosEnv)
		}
		t.Skipf("chaos test: %s; run it alone with `make chaos` (%s=1)", why, chaosEnv)
	}
}

func natsURL() string {
	if u := os.Getenv("EVENTFOLD_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// service is one of the servers the tests stop and start, with the same
// commands scripts/services.sh uses.
type service struct {
	name  string
	probe func() error
	stop  func() error
	start func() error
}

var (
	postgresService = service{name: "PostgreSQL", probe: probePostgres, stop: stopPostgres, start: startPostgres}
	redisService    = service{name: "Redis", probe: probeRedis, stop: stopRedis, start: startRedis}
	natsService     = service{name: "NATS", probe: probeNATS, stop: stopNATS, start: startNATS}
)

// restartTimeout bounds every wait for a service to go down or come back.
const restartTimeout = 60 * time.Second

// stopService stops s and registers a cleanup that starts it again (if the
// test did not) and waits until it answers.
func stopService(t *testing.T, s service) {
	t.Helper()
	t.Cleanup(func() {
		if s.probe() == nil {
			return
		}
		t.Logf("restoring %s", s.name)
		if err := startService(s); err != nil {
			t.Errorf("restore %s: %v", s.name, err)
		}
	})
	start := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("stop %s: %v", s.name, err)
	}
	if err := waitUntil(restartTimeout, func() bool { return s.probe() != nil }); err != nil {
		t.Fatalf("%s still answers after being stopped: %v", s.name, err)
	}
	t.Logf("%s stopped in %v", s.name, time.Since(start).Round(time.Millisecond))
}

// startService starts s and waits until it answers.
func startService(s service) error {
	if err := s.start(); err != nil {
		return err
	}
	var last error
	if err := waitUntil(restartTimeout, func() bool { last = s.probe(); return last == nil }); err != nil {
		return fmt.Errorf("%s did not come back: %w (last probe: %v)", s.name, err, last)
	}
	return nil
}

// restartService stops s, leaves it down for down, and starts it again.
func restartService(t *testing.T, s service, down time.Duration) {
	t.Helper()
	stopService(t, s)
	time.Sleep(down)
	start := time.Now()
	if err := startService(s); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s answers again %v after the start command", s.name, time.Since(start).Round(time.Millisecond))
}

func waitUntil(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// command runs an administration command (through sudo when not root),
// bounded in time.
func command(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), restartTimeout)
	defer cancel()
	if os.Geteuid() != 0 {
		args = append([]string{name}, args...)
		name = "sudo"
	}
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// pgCluster returns the newest PostgreSQL version under /etc/postgresql,
// as scripts/services.sh picks it.
func pgCluster() (string, error) {
	entries, err := os.ReadDir("/etc/postgresql")
	if err != nil {
		return "", err
	}
	var versions []string
	for _, e := range entries {
		versions = append(versions, e.Name())
	}
	if len(versions) == 0 {
		return "", errors.New("no cluster under /etc/postgresql")
	}
	sort.Slice(versions, func(i, j int) bool {
		a, _ := strconv.ParseFloat(versions[i], 64)
		b, _ := strconv.ParseFloat(versions[j], 64)
		return a < b
	})
	return versions[len(versions)-1], nil
}

func pgctl(action string, extra ...string) error {
	v, err := pgCluster()
	if err != nil {
		return err
	}
	return command("pg_ctlcluster", append([]string{"--skip-systemctl-redirect", v, "main", action}, extra...)...)
}

func probePostgres() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432").Run()
}

// stopPostgres shuts PostgreSQL down in fast mode: open transactions are
// rolled back and every connection is closed.
func stopPostgres() error { return pgctl("stop", "-m", "fast") }

func startPostgres() error {
	if err := pgctl("start"); err != nil {
		return err
	}
	return nil
}

func probeRedis() error {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// stopRedis shuts Redis down without saving: it keeps nothing on disk here,
// so its data is lost, as when a cache node restarts.
func stopRedis() error {
	// redis-cli may report the connection closing under it; the probe tells.
	_ = command("redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave")
	return nil
}

func startRedis() error {
	if err := command("mkdir", "-p", "/var/lib/redis", "/var/log/redis"); err != nil {
		return err
	}
	return command("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
		"--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log")
}

// probeNATS checks that NATS answers and JetStream has recovered.
func probeNATS() error {
	conn, err := nc.Connect(natsURL(), nc.Timeout(time.Second), nc.NoReconnect())
	if err != nil {
		return err
	}
	defer conn.Close()
	js, err := conn.JetStream(nc.MaxWait(2 * time.Second))
	if err != nil {
		return err
	}
	_, err = js.AccountInfo()
	return err
}

// natsPIDs finds the running nats-server processes.
func natsPIDs() ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "pgrep", "-x", "nats-server").Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return nil, nil // none running
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// stopNATS ends the nats-server process (by its ID) and waits for it to
// exit; JetStream keeps its streams in /var/lib/nats-server.
func stopNATS() error {
	pids, err := natsPIDs()
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return errors.New("no nats-server process found")
	}
	for _, pid := range pids {
		if err := command("kill", "-TERM", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	for _, pid := range pids {
		if err := waitUntil(30*time.Second, func() bool { return !processRunning(pid) }); err != nil {
			return fmt.Errorf("nats-server %d did not exit: %w", pid, err)
		}
	}
	return nil
}

// processRunning reports whether pid is alive and not a zombie waiting for
// a parent that does not reap it.
func processRunning(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func startNATS() error {
	if err := command("mkdir", "-p", "/var/lib/nats-server"); err != nil {
		return err
	}
	return command("start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/nats-server", "--",
		"-a", "127.0.0.1", "-p", "4222", "-js", "-sd", "/var/lib/nats-server", "-l", "/var/log/nats-server.log")
}

// The tally projection is shared with the other integration tests.
type tally = tallies.Doc

func tallyProjection() *projection.Projection { return tallies.Projection() }

func added(n int) eventstore.Event {
	return eventstore.Event{ID: eventstore.NewEventID(), Type: "Added", Data: fmt.Appendf(nil, `{"N":%d}`, n)}
}

// env is one test's event store (its own schema) and read-model store (its
// own key prefix).
type env struct {
	pool   *pgxpool.Pool
	opts   *pgstore.Options
	store  *pgstore.Store
	rc     *redis.Client
	prefix string
	rm     *redisstore.Store
}

func setup(t *testing.T) *env {
	t.Helper()
	pool, schema := testenv.Schema(t)
	opts := &pgstore.Options{Schema: schema}
	if err := pgstore.Migrate(t.Context(), pool, opts); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	rc, prefix := testenv.Redis(t)
	prefix = strings.NewReplacer("{", "", "}", "").Replace(prefix) + ":"
	rm, err := redisstore.New(rc, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return &env{pool: pool, opts: opts, store: store, rc: rc, prefix: prefix, rm: rm}
}

// runner is a projection runner running in a goroutine until stop.
type runner struct {
	*projection.Runner
	cancel context.CancelFunc
	done   chan struct{}
}

// startRunner runs the tally projection from src into rm, with short
// backoffs so that recovery shows within the test's time.
func startRunner(t *testing.T, src projection.Source, rm readmodel.Store, batch int) *runner {
	t.Helper()
	return startProjection(t, tallyProjection(), src, rm, batch)
}

// startProjection runs p as startRunner runs the tally projection.
func startProjection(t *testing.T, p *projection.Projection, src projection.Source, rm readmodel.Store, batch int) *runner {
	t.Helper()
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: src, Store: rm,
		BatchSize: batch, Backoff: 20 * time.Millisecond, MaxBackoff: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runner{Runner: r, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(rn.done); r.Run(ctx) }() //nolint:errcheck
	t.Cleanup(rn.stop)
	return rn
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
}

// fold reads the whole log and returns what the tally read model must hold,
// and how often each event ID is stored.
func (e *env) fold(t *testing.T) (map[string]tally, map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	want := map[string]tally{}
	ids := map[string]int{}
	var after eventstore.Position
	for {
		recs, err := e.store.ReadAll(ctx, after, 0)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		if len(recs) == 0 {
			return want, ids
		}
		for _, r := range recs {
			var ev struct{ N int }
			if err := json.Unmarshal(r.Data, &ev); err != nil {
				t.Fatalf("event %s: %v", r.ID, err)
			}
			x := want[r.StreamID]
			x.Count++
			x.Sum += ev.N
			want[r.StreamID] = x
			ids[r.ID]++
		}
		after = recs[len(recs)-1].Position
	}
}

// check waits until the active version has applied last, then compares
// the whole read model with a fold of the store.
func (e *env) check(t *testing.T, last eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := projection.WaitFor(ctx, e.rm, "tallies", "", last); err != nil {
		t.Fatalf("WaitFor(%s): %v", last, err)
	}
	want, _ := e.fold(t)
	got := e.readModel(t, ctx, want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read model differs from the fold of the event store (-want +got):\n%s", diff)
	}
}

// readModel reads the tally of every stream in want from the active
// version.
func (e *env) readModel(t *testing.T, ctx context.Context, want map[string]tally) map[string]tally {
	t.Helper()
	ns, err := projection.Active(ctx, e.rm, "tallies", "")
	if err != nil {
		t.Fatalf("Active: %v", err)
	}
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	items, err := tallies.Model.View(e.rm, ns).GetMany(ctx, ids)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	got := map[string]tally{}
	for _, it := range items {
		got[it.ID] = it.Doc
	}
	return got
}

// statusLog records the distinct states and errors a runner shows.
type statusLog struct {
	mu     sync.Mutex
	states []projection.State
	errs   []string
}

func (l *statusLog) note(s projection.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.states); n == 0 || l.states[n-1] != s.State {
		l.states = append(l.states, s.State)
	}
	if s.LastError != "" && (len(l.errs) == 0 || l.errs[len(l.errs)-1] != s.LastError) && len(l.errs) < 20 {
		l.errs = append(l.errs, s.LastError)
	}
}

// watch samples r's status every interval until ctx ends.
func (l *statusLog) watch(ctx context.Context, r *runner, interval time.Duration) {
	for ctx.Err() == nil {
		l.note(r.Status())
		time.Sleep(interval)
	}
}

func (l *statusLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("states %q, last errors %q", l.states, l.errs)
}
