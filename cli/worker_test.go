package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// ordersApp is an application with one projection, "orders", whose Poison
// events fail while broken is set.
type ordersApp struct {
	broken atomic.Bool
}

func (a *ordersApp) options(stdout, stderr *syncBuffer) Options {
	return Options{
		Use:    "shop",
		Stdout: stdout,
		Stderr: stderr,
		Projections: func(ctx context.Context, deps Deps) ([]projection.Config, error) {
			p := projection.New("orders", "1", nil)
			p.On("OrderPlaced", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
				tx.Put(rec.StreamID, rec.Data)
				return nil
			})
			p.On("Poison", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
				if a.broken.Load() {
					return errors.New("handler bug")
				}
				tx.Put("fixed-"+rec.StreamID, []byte(`{}`))
				return nil
			})
			return []projection.Config{{Projection: p, MaxAttempts: 1, Backoff: time.Millisecond}}, nil
		},
	}
}

// syncBuffer is a bytes.Buffer safe for a command's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWorkerFaultControlAndRebuild runs the worker of an application in
// a goroutine, configured through the environment, and operates it only
// through the command line: skip and retry reach the faulted runner through
// Redis, and a rebuild switches readers over without their seeing a partial
// read model.
func TestWorkerFaultControlAndRebuild(t *testing.T) {
	ctx := t.Context()
	env := newShopEnv(t)
	store, rm, app, run := env.store, env.rm, env.app, env.run(t)
	appendEvent := func(stream, typ string) eventstore.Position {
		t.Helper()
		res, err := store.Append(ctx, stream, eventstore.Any, []eventstore.Event{{Type: typ, Data: []byte(`{"stream":"` + stream + `"}`)}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	waitFor := func(pos eventstore.Position) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := projection.WaitFor(wctx, rm, "orders", "", pos); err != nil {
			t.Fatalf("WaitFor(%s): %v", pos, err)
		}
	}

	var workerOut, workerLog syncBuffer
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	healthAddr := freeAddr(t)
	go func() {
		workerDone <- Execute(workerCtx, []string{"worker", "--health-listen", healthAddr}, app.options(&workerOut, &workerLog))
	}()
	t.Cleanup(func() { stopWorker(); <-workerDone })

	for i := range 20 {
		appendEvent("order-"+string(rune('a'+i)), "OrderPlaced")
	}
	waitFor(appendEvent("order-z", "OrderPlaced"))
	if code, body := getHealth(t, healthAddr); code != http.StatusOK || !strings.Contains(body, `"healthy":true`) {
		t.Errorf("/healthz of a worker that has caught up: %d %s", code, body)
	}

	if _, err := run("projections", "skip", "orders"); err == nil || !strings.Contains(err.Error(), "not faulted") {
		t.Errorf("skip of a healthy projection: %v", err)
	}

	// A poison event faults the worker's runner; status shows it.
	poison1 := appendEvent("bad-1", "Poison")
	after := appendEvent("order-after", "OrderPlaced")
	testenv.Eventually(t, 15*time.Second, func() bool {
		fs, err := projectionops.Faults(ctx, rm, "orders", "")
		return err == nil && len(fs) == 1
	}, "no fault published")
	testenv.Eventually(t, 15*time.Second, func() bool {
		code, body := getHealth(t, healthAddr)
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"problem":"faulted`)
	}, "/healthz does not report the fault")
	status, err := run("projections", "status", "orders")
	if err != nil || !strings.Contains(status, "FAULTED orders version 1 partition 0") || !strings.Contains(status, poison1.String()) || !strings.Contains(status, "handler bug") {
		t.Errorf("status of the faulted projection: %v\n%s", err, status)
	}
	// A skip naming another event is refused; the right one goes through.
	if _, err := run("projections", "skip", "orders", "--position", after.String()); !errors.Is(err, projectionops.ErrStaleRequest) {
		t.Errorf("stale skip = %v, want ErrStaleRequest", err)
	}
	out, err := run("projections", "skip", "orders")
	if err != nil || !strings.Contains(out, "skipped event") || !strings.Contains(out, poison1.String()) {
		t.Fatalf("skip: %v\n%s", err, out)
	}
	waitFor(after)
	if _, err := rm.Get(ctx, readmodel.Namespace{Projection: "orders", Version: "1"}, "fixed-bad-1"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Errorf("the skipped event was applied: %v", err)
	}

	// Another poison event; after the fix, retry applies it.
	appendEvent("bad-2", "Poison")
	testenv.Eventually(t, 15*time.Second, func() bool {
		fs, err := projectionops.Faults(ctx, rm, "orders", "")
		return err == nil && len(fs) == 1 && fs[0].StreamID == "bad-2"
	}, "second fault not published")
	app.broken.Store(false)
	if out, err := run("projections", "retry", "orders"); err != nil || !strings.Contains(out, "retrying event") {
		t.Fatalf("retry: %v\n%s", err, out)
	}
	waitFor(appendEvent("order-end", "OrderPlaced"))
	if _, err := rm.Get(ctx, readmodel.Namespace{Projection: "orders", Version: "1"}, "fixed-bad-2"); err != nil {
		t.Errorf("the retried event was not applied: %v", err)
	}

	// Rebuild while readers read: they see version 1, whole, until the
	// switch, then 1~1, whole.
	ids := []string{"order-a", "order-k", "order-z", "order-after", "order-end", "fixed-bad-2"}
	before := readDocs(t, rm, "1", ids)
	stopReads := make(chan struct{})
	var readErr atomic.Value
	var versions sync.Map
	var reads sync.WaitGroup
	reads.Add(1)
	go func() {
		defer reads.Done()
		for {
			select {
			case <-stopReads:
				return
			default:
			}
			ns, err := projection.Active(context.Background(), rm, "orders", "")
			if err != nil {
				readErr.Store(err)
				return
			}
			docs, err := rm.GetMany(context.Background(), ns, ids)
			if err != nil {
				readErr.Store(err)
				return
			}
			if len(docs) != len(ids) && ns.Version != "1" { // "1" may be dropped between the two reads
				readErr.Store(errors.New("partial read model served: version " + ns.Version))
				return
			}
			versions.Store(ns.Version, true)
		}
	}()
	out, err = run("projections", "rebuild", "orders", "--json")
	close(stopReads)
	reads.Wait()
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	if err := readErr.Load(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var progress progressReport
	if err := json.Unmarshal([]byte(lines[0]), &progress); err != nil || progress.Head == 0 || !strings.Contains(lines[0], `"percent"`) || !strings.Contains(lines[0], `"eta_seconds"`) {
		t.Errorf("first progress line %q: %v", lines[0], err)
	}
	var summary struct {
		Version string
		Active  bool
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil || summary.Version != "1~1" || !summary.Active {
		t.Errorf("summary %q: %+v %v", lines[len(lines)-1], summary, err)
	}
	if ns, _ := projection.Active(ctx, rm, "orders", ""); ns.Version != "1~1" {
		t.Fatalf("active version after the rebuild: %q", ns.Version)
	}
	if _, ok := versions.Load("1"); !ok {
		t.Error("readers never saw version 1 during the rebuild")
	}
	got := readDocs(t, rm, "1~1", ids)
	if len(got) != len(before) {
		t.Errorf("rebuilt read model has %d of the documents, before %d", len(got), len(before))
	}
	for id, data := range before {
		if got[id] != data {
			t.Errorf("document %s: rebuilt %q, before %q", id, got[id], data)
		}
	}
	// The worker follows the rebuilt generation.
	waitFor(appendEvent("order-last", "OrderPlaced"))
	if _, err := rm.Get(ctx, readmodel.Namespace{Projection: "orders", Version: "1~1"}, "order-last"); err != nil {
		t.Errorf("the worker did not follow the rebuild: %v", err)
	}

	stopWorker()
	select {
	case err := <-workerDone:
		workerDone <- err
		if err != nil {
			t.Errorf("worker ended with %v, want nil on interrupt", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not stop on cancel")
	}
	if !strings.Contains(workerLog.String(), "worker started") || !strings.Contains(workerLog.String(), "operator skipped event") {
		t.Errorf("worker log lacks its start or the skip:\n%s", workerLog.String())
	}
}

func readDocs(t *testing.T, rm readmodel.Reader, version string, ids []string) map[string]string {
	t.Helper()
	docs, err := rm.GetMany(t.Context(), readmodel.Namespace{Projection: "orders", Version: version}, ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range docs {
		out[d.ID] = string(d.Data)
	}
	return out
}

// shopEnv is an application with the orders projection over a fresh schema
// and Redis prefix, configured through the environment as an operator's
// shell would be. Its handler starts broken.
type shopEnv struct {
	store *pgstore.Store
	rm    *redisstore.Store
	app   *ordersApp
}

func newShopEnv(t *testing.T) *shopEnv {
	t.Helper()
	pool, schema := testenv.Schema(t)
	client, prefix := testenv.Redis(t)
	if err := pgstore.Migrate(t.Context(), pool, &pgstore.Options{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	rm, err := redisstore.New(client, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("EVENTFOLD_POSTGRES_URL", testenv.PostgresURL())
	t.Setenv("EVENTFOLD_SCHEMA", schema)
	t.Setenv("EVENTFOLD_REDIS_URL", testenv.RedisURL())
	t.Setenv("EVENTFOLD_REDIS_PREFIX", prefix)
	app := &ordersApp{}
	app.broken.Store(true)
	return &shopEnv{store: store, rm: rm, app: app}
}

// run runs the application's command line and returns its standard output.
func (e *shopEnv) run(t *testing.T) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		t.Helper()
		var out, errOut syncBuffer
		err := Execute(t.Context(), args, e.app.options(&out, &errOut))
		if err != nil {
			t.Logf("shop %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), err
	}
}

// freeAddr returns a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// getHealth returns the status and body of GET /healthz on addr, retrying
// while the worker has not started listening yet.
func getHealth(t *testing.T, addr string) (int, string) {
	t.Helper()
	var lastErr error
	for range 100 {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	t.Fatalf("GET /healthz on %s: %v", addr, lastErr)
	return 0, ""
}
