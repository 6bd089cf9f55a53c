package projection_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

type account struct {
	Owner   string `json:"owner"`
	Balance int64  `json:"balance"`
	Events  int    `json:"events"`
}

var accounts = readmodel.Model[account]{
	Indexes: []readmodel.Index[account]{
		readmodel.By("owner", func(a account) readmodel.Value { return readmodel.String(a.Owner) }),
	},
}

type opened struct {
	Owner string `json:"owner"`
}
type deposited struct {
	Amount int64 `json:"amount"`
}

// testEvents is the registry of the test events, as a command side would
// register them.
var testEvents = func() *command.Registry {
	reg := command.NewRegistry(nil)
	if err := errors.Join(
		command.Register[opened](reg, "Opened", nil),
		command.Register[deposited](reg, "Deposited", nil),
	); err != nil {
		panic(err)
	}
	return reg
}()

// balances builds one account document per stream.
func balances(version string) *projection.Projection {
	p := projection.New("balances", version, testEvents)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e opened) error {
		return projection.Store(tx, accounts, rec.StreamID, account{Owner: e.Owner, Events: 1})
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e deposited) error {
		a, ok, err := projection.Load(ctx, tx, accounts, rec.StreamID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no account %s", rec.StreamID)
		}
		a.Balance += e.Amount
		a.Events++
		return projection.Store(tx, accounts, rec.StreamID, a)
	})
	return p
}

// fold computes what balances must hold, straight from the event store.
func fold(t *testing.T, es eventstore.Store) map[string]account {
	t.Helper()
	want := map[string]account{}
	var after eventstore.Position
	for {
		recs, err := es.ReadAll(context.Background(), after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return want
		}
		for _, r := range recs {
			a := want[r.StreamID]
			switch r.Type {
			case "Opened":
				var e opened
				_ = json.Unmarshal(r.Data, &e)
				a = account{Owner: e.Owner, Events: 1}
			case "Deposited":
				var e deposited
				_ = json.Unmarshal(r.Data, &e)
				a.Balance += e.Amount
				a.Events++
			}
			want[r.StreamID] = a
		}
		after = recs[len(recs)-1].Position
	}
}

func readAll(t *testing.T, rm readmodel.Reader, ns readmodel.Namespace, streams []string) map[string]account {
	t.Helper()
	got := map[string]account{}
	items, err := accounts.View(rm, ns).GetMany(context.Background(), streams)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		got[it.ID] = it.Doc
	}
	return got
}

func appendAccounts(t *testing.T, es eventstore.Store, streams, deposits int) (eventstore.Position, []string) {
	t.Helper()
	var last eventstore.Position
	var names []string
	for s := 0; s < streams; s++ {
		name := fmt.Sprintf("acct-%d", s)
		names = append(names, name)
		events := []eventstore.Event{{Type: "Opened", Data: []byte(fmt.Sprintf(`{"owner":"owner-%d"}`, s%3))}}
		for d := 1; d <= deposits; d++ {
			events = append(events, eventstore.Event{Type: "Deposited", Data: []byte(fmt.Sprintf(`{"amount":%d}`, d))})
		}
		res, err := es.Append(context.Background(), name, eventstore.NoStream, events)
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	return last, names
}

func startRunner(t *testing.T, cfg projection.Config) (*projection.Runner, func() error) {
	t.Helper()
	r, err := projection.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return r, stop
}

func waitFor(t *testing.T, rm readmodel.Reader, name string, token eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := projection.WaitFor(ctx, rm, name, "", token); err != nil {
		t.Fatalf("WaitFor(%s) = %v", token, err)
	}
}

func TestRunnerBuildsReadModelAndWaitFor(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, streams := appendAccounts(t, es, 20, 5)
	r, _ := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm, BatchSize: 7})
	waitFor(t, rm, "balances", token)

	ns, err := projection.Active(t.Context(), rm, "balances", "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fold(t, es), readAll(t, rm, ns, streams)); diff != "" {
		t.Errorf("read model differs from the fold of the store (-want +got):\n%s", diff)
	}
	// A command's effect is visible once WaitFor returns for its token.
	res, err := es.Append(t.Context(), "acct-3", eventstore.Exact(6), []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":1000}`)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", res.Position)
	a, err := accounts.View(rm, ns).Get(t.Context(), "acct-3")
	if err != nil || a.Balance != 1015 {
		t.Errorf("after WaitFor acct-3 = %+v, %v; want balance 1015", a, err)
	}
	page, err := accounts.View(rm, ns).Query(t.Context(), readmodel.Equal("owner", readmodel.String("owner-1")))
	if err != nil || len(page.Items) != 7 {
		t.Errorf("owner-1 has %d accounts, %v; want 7", len(page.Items), err)
	}
	st := r.Status()
	if st.State != projection.StateRunning || !st.Active || st.Position != res.Position {
		t.Errorf("Status = %+v; want running, active, at %v", st, res.Position)
	}
}

func TestWaitForTimesOutClearly(t *testing.T) {
	rm := memstore.NewReadModels(nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := projection.WaitFor(ctx, rm, "nothing", "", eventstore.Position{Commit: 1, Sequence: 1})
	if !errors.Is(err, projection.ErrNotReady) {
		t.Errorf("WaitFor on a projection never built = %v, want ErrNotReady", err)
	}
}

// TestRestartAppliesNothingTwice stops runners at arbitrary points while
// events arrive; every restart resumes from the committed checkpoint.
func TestRestartAppliesNothingTwice(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	var streams []string
	var writers sync.WaitGroup
	writers.Add(1)
	go func() {
		defer writers.Done()
		for i := 0; i < 30; i++ {
			_, s := appendAccountsFrom(t, es, i*10, 10, 3)
			streams = append(streams, s...)
			time.Sleep(time.Millisecond)
		}
	}()
	for round := 0; round < 10; round++ {
		_, stop := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm, BatchSize: 13})
		time.Sleep(time.Duration(1+round%4) * time.Millisecond)
		stop()
	}
	writers.Wait()
	startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm, BatchSize: 13})
	head := lastPosition(t, es)
	waitFor(t, rm, "balances", head)
	ns, _ := projection.Active(t.Context(), rm, "balances", "")
	if diff := cmp.Diff(fold(t, es), readAll(t, rm, ns, streams)); diff != "" {
		t.Errorf("after restarts the read model differs from the fold (-want +got):\n%s", diff)
	}
}

func appendAccountsFrom(t *testing.T, es eventstore.Store, from, n, deposits int) (eventstore.Position, []string) {
	t.Helper()
	var last eventstore.Position
	var names []string
	for s := from; s < from+n; s++ {
		name := fmt.Sprintf("acct-%d", s)
		names = append(names, name)
		events := []eventstore.Event{{Type: "Opened", Data: []byte(`{"owner":"o"}`)}}
		for d := 1; d <= deposits; d++ {
			events = append(events, eventstore.Event{Type: "Deposited", Data: []byte(fmt.Sprintf(`{"amount":%d}`, d))})
		}
		res, err := es.Append(context.Background(), name, eventstore.NoStream, events)
		if err != nil {
			t.Error(err)
			return last, names
		}
		last = res.Position
	}
	return last, names
}

func lastPosition(t *testing.T, es eventstore.Store) eventstore.Position {
	t.Helper()
	var after eventstore.Position
	for {
		recs, err := es.ReadAll(context.Background(), after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return after
		}
		after = recs[len(recs)-1].Position
	}
}

// TestPoisonEventFaultsOnePartition makes one stream's event fail: its
// partition faults visibly and stops, the other partition goes on, and a
// retry after the fix resumes it.
func TestPoisonEventFaultsOnePartition(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	var broken atomic.Bool
	broken.Store(true)
	p := balances("1")
	poisoned := "acct-poison"
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e deposited) error {
		if rec.StreamID == poisoned && broken.Load() {
			return errors.New("cannot handle this one")
		}
		a, _, err := projection.Load(ctx, tx, accounts, rec.StreamID)
		if err != nil {
			return err
		}
		a.Balance += e.Amount
		a.Events++
		return projection.Store(tx, accounts, rec.StreamID, a)
	})
	_, streams := appendAccounts(t, es, 12, 2)
	if _, err := es.Append(t.Context(), poisoned, eventstore.NoStream, []eventstore.Event{
		{Type: "Opened", Data: []byte(`{"owner":"x"}`)}, {Type: "Deposited", Data: []byte(`{"amount":5}`)}}); err != nil {
		t.Fatal(err)
	}
	token, more := appendAccountsFrom(t, es, 100, 6, 1)
	streams = append(append(streams, more...), poisoned)

	bad := projection.PartitionOf(poisoned, 2)
	runners := make([]*projection.Runner, 2)
	for k := range runners {
		runners[k], _ = startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm,
			Partitions: 2, Partition: k, MaxAttempts: 2, Backoff: time.Millisecond})
	}
	deadline := time.Now().Add(10 * time.Second)
	for runners[bad].Status().State != projection.StateFaulted {
		if time.Now().After(deadline) {
			t.Fatalf("the poisoned partition never faulted: %+v", runners[bad].Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
	f := runners[bad].Status().Fault
	if f == nil || f.Event.StreamID != poisoned || f.Event.Type != "Deposited" || f.Err == "" || f.Attempts != 2 {
		t.Fatalf("Fault = %+v; want the poisoned Deposited event after 2 attempts", f)
	}
	if err := runners[1-bad].Retry(t.Context()); !errors.Is(err, projection.ErrNotFaulted) {
		t.Errorf("Retry on a healthy partition = %v, want ErrNotFaulted", err)
	}
	// The other partition reaches the end of the log meanwhile.
	testDeadline := time.Now().Add(10 * time.Second)
	for runners[1-bad].Status().Position != token {
		if time.Now().After(testDeadline) {
			t.Fatalf("healthy partition stuck at %v, want %v", runners[1-bad].Status().Position, token)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Nothing after the poisoned event was applied in its partition.
	if runners[bad].Status().Position.Compare(f.Event.Position) >= 0 {
		t.Errorf("faulted partition checkpoint %v passed the poisoned event %v", runners[bad].Status().Position, f.Event.Position)
	}

	broken.Store(false)
	if err := runners[bad].Retry(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", token)
	ns, _ := projection.Active(t.Context(), rm, "balances", "")
	if diff := cmp.Diff(fold(t, es), readAll(t, rm, ns, streams)); diff != "" {
		t.Errorf("after the retry the read model differs from the fold (-want +got):\n%s", diff)
	}
}

func TestSkipPassesOverThePoisonEvent(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	p := balances("1")
	p.On("Bad", func(context.Context, *projection.Tx, eventstore.Record) error { return errors.New("always fails") })
	if _, err := es.Append(t.Context(), "a", eventstore.NoStream, []eventstore.Event{
		{Type: "Opened", Data: []byte(`{"owner":"x"}`)}, {Type: "Bad", Data: []byte(`{}`)}, {Type: "Deposited", Data: []byte(`{"amount":7}`)}}); err != nil {
		t.Fatal(err)
	}
	token := lastPosition(t, es)
	r, _ := startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm, MaxAttempts: 1})
	for r.Status().State != projection.StateFaulted {
		time.Sleep(time.Millisecond)
	}
	if err := r.Skip(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", token)
	ns, _ := projection.Active(t.Context(), rm, "balances", "")
	if a, err := accounts.View(rm, ns).Get(t.Context(), "a"); err != nil || a.Balance != 7 {
		t.Errorf("after Skip account a = %+v, %v; want balance 7", a, err)
	}
}

// TestRebuildSwitchesOverWithoutAGap runs version 2 beside version 1 under
// live writes: readers are served by version 1 until version 2 has caught
// up, then by version 2, never failing and never going backwards.
func TestRebuildSwitchesOverWithoutAGap(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, _ := appendAccounts(t, es, 50, 20)
	v1, stopV1 := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm, BatchSize: 50})
	waitFor(t, rm, "balances", token)

	// Live writes to one account while a reader checks it never goes back.
	var writes, reads sync.WaitGroup
	stopIO := make(chan struct{})
	writes.Add(1)
	go func() {
		defer writes.Done()
		for v := int64(21); ; v++ {
			select {
			case <-stopIO:
				return
			default:
			}
			if _, err := es.Append(context.Background(), "acct-0", eventstore.Exact(v), []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":1}`)}}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	var readErr atomic.Value
	reads.Add(1)
	go func() {
		defer reads.Done()
		last, lastVersion := int64(0), ""
		for {
			select {
			case <-stopIO:
				return
			default:
			}
			ns, err := projection.Active(context.Background(), rm, "balances", "")
			if err != nil {
				readErr.Store(fmt.Errorf("Active: %w", err))
				return
			}
			a, err := accounts.View(rm, ns).Get(context.Background(), "acct-0")
			if errors.Is(err, readmodel.ErrNotFound) && ns.Version == "1" {
				continue // version 1 was dropped after the switch between the two reads
			}
			if err != nil {
				readErr.Store(fmt.Errorf("Get from %s: %w", ns.Version, err))
				return
			}
			if a.Balance < last {
				readErr.Store(fmt.Errorf("balance went back from %d (version %s) to %d (version %s)", last, lastVersion, a.Balance, ns.Version))
				return
			}
			last, lastVersion = a.Balance, ns.Version
		}
	}()

	v2, _ := startRunner(t, projection.Config{Projection: balances("2"), Source: projection.LogSource(es, nil), Store: rm, BatchSize: 50})
	deadline := time.Now().Add(20 * time.Second)
	for !v2.Status().Active {
		if time.Now().After(deadline) {
			t.Fatalf("version 2 never became active: %+v", v2.Status())
		}
		time.Sleep(time.Millisecond)
	}
	// Version 1 notices it was replaced and retires by itself.
	for v1.Status().State != projection.StateStopped {
		if time.Now().After(deadline) {
			t.Fatalf("version 1 never retired: %+v\nv2: %+v\nlog head %v", v1.Status(), v2.Status(), lastPosition(t, es))
		}
		time.Sleep(time.Millisecond)
	}
	if err := stopV1(); !errors.Is(err, projection.ErrRetired) {
		t.Errorf("version 1 runner ended with %v, want ErrRetired", err)
	}
	close(stopIO)
	writes.Wait()
	reads.Wait()
	if err := readErr.Load(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", lastPosition(t, es))
	ns, _ := projection.Active(t.Context(), rm, "balances", "")
	if ns.Version != "2" {
		t.Fatalf("active version %q, want 2", ns.Version)
	}
	if st, _ := rm.State(t.Context(), readmodel.Namespace{Projection: "balances", Version: "1"}); st.Initialized {
		t.Errorf("version 1 was not dropped after the switch")
	}
	var streams []string
	for s := 0; s < 50; s++ {
		streams = append(streams, fmt.Sprintf("acct-%d", s))
	}
	if diff := cmp.Diff(fold(t, es), readAll(t, rm, ns, streams)); diff != "" {
		t.Errorf("version 2 differs from the fold (-want +got):\n%s", diff)
	}
}

// TestLostReadModelIsRebuilt drops everything the store held (as a Redis
// restart without persistence does): the runner notices and rebuilds, and
// readers get ErrNotReady, not wrong data, until it has.
func TestLostReadModelIsRebuilt(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, streams := appendAccounts(t, es, 10, 3)
	r, _ := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm})
	waitFor(t, rm, "balances", token)

	for _, ns := range []readmodel.Namespace{{Projection: "balances", Version: "1"}, {Projection: "balances", Version: "$active"}} {
		if err := rm.Drop(t.Context(), ns); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := projection.Active(t.Context(), rm, "balances", ""); !errors.Is(err, projection.ErrNotReady) {
		t.Errorf("Active after the loss = %v, want ErrNotReady", err)
	}
	res, err := es.Append(t.Context(), "acct-1", eventstore.Exact(4), []eventstore.Event{{Type: "Deposited", Data: []byte(`{"amount":50}`)}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, rm, "balances", res.Position)
	ns, _ := projection.Active(t.Context(), rm, "balances", "")
	if diff := cmp.Diff(fold(t, es), readAll(t, rm, ns, streams)); diff != "" {
		t.Errorf("after the rebuild the read model differs from the fold (-want +got):\n%s", diff)
	}
	_ = r
}

func TestPartitionsTogetherEqualTheFold(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	token, streams := appendAccounts(t, es, 40, 4)
	for k := 0; k < 4; k++ {
		startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm, Partitions: 4, Partition: k, BatchSize: 16})
	}
	waitFor(t, rm, "balances", token)
	ns, _ := projection.Active(t.Context(), rm, "balances", "")
	if diff := cmp.Diff(fold(t, es), readAll(t, rm, ns, streams)); diff != "" {
		t.Errorf("partitioned read model differs from the fold (-want +got):\n%s", diff)
	}
}

func TestConfigValidate(t *testing.T) {
	_, err := projection.NewRunner(projection.Config{})
	if err == nil {
		t.Fatal("NewRunner with an empty Config succeeded")
	}
	for _, want := range []string{"Projection", "Source", "Store"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	_, err = projection.NewRunner(projection.Config{Projection: balances("$x"), Source: projection.LogSource(memstore.New(nil), nil), Store: memstore.NewReadModels(nil), Partitions: 2, Partition: 2})
	if err == nil || !contains(err.Error(), "partition 2 of 2") || !contains(err.Error(), "'$'") {
		t.Errorf("NewRunner with a bad partition and version = %v", err)
	}
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (s == sub || len(sub) == 0 || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestWaiterServesManyWaiters has many goroutines wait on one Waiter for
// tokens of their own commands while the runner applies them.
func TestWaiterServesManyWaiters(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: rm})
	w := projection.NewWaiter(rm, "balances", "", nil)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("acct-%d", i)
			res, err := es.Append(context.Background(), stream, eventstore.NoStream, []eventstore.Event{
				{Type: "Opened", Data: []byte(`{"owner":"o"}`)}, {Type: "Deposited", Data: []byte(fmt.Sprintf(`{"amount":%d}`, i))}})
			if err != nil {
				t.Error(err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := w.WaitFor(ctx, res.Position); err != nil {
				t.Errorf("WaitFor(%s) = %v", res.Position, err)
				return
			}
			ns, err := projection.Active(ctx, rm, "balances", "")
			if err != nil {
				t.Error(err)
				return
			}
			if a, err := accounts.View(rm, ns).Get(ctx, stream); err != nil || a.Balance != int64(i) {
				t.Errorf("after WaitFor %s = %+v, %v; want balance %d", stream, a, err, i)
			}
		}()
	}
	wg.Wait()
	// A token beyond the log times out with ErrStale.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if err := w.WaitFor(ctx, eventstore.Position{Commit: 1 << 40}); !errors.Is(err, projection.ErrStale) {
		t.Errorf("WaitFor of a future token = %v, want ErrStale", err)
	}
}

// flakyStore fails every call while down is set, like a Redis that cannot
// be reached.
type flakyStore struct {
	readmodel.Store
	down atomic.Bool
}

var errUnreachable = errors.New("dial tcp 127.0.0.1:6379: connection refused")

func (f *flakyStore) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	if f.down.Load() {
		return readmodel.Result{}, errUnreachable
	}
	return f.Store.Apply(ctx, ns, b)
}

func (f *flakyStore) GetMany(ctx context.Context, ns readmodel.Namespace, ids []string) ([]readmodel.Document, error) {
	if f.down.Load() {
		return nil, errUnreachable
	}
	return f.Store.GetMany(ctx, ns, ids)
}

// TestStoreOutageIsUnavailableThenRecovers cuts the read-model store: the
// runner retries, shows the store unavailable after MaxAttempts, and
// recovers by itself when the store is back, losing nothing.
func TestStoreOutageIsUnavailableThenRecovers(t *testing.T) {
	es := memstore.New(nil)
	store := &flakyStore{Store: memstore.NewReadModels(nil)}
	token, streams := appendAccounts(t, es, 5, 2)
	r, stop := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: store,
		MaxAttempts: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	waitFor(t, store, "balances", token)

	store.down.Store(true)
	token, more := appendAccountsFrom(t, es, 100, 3, 1)
	streams = append(streams, more...)
	eventually(t, "the store unavailable", func() bool { return r.Status().State == projection.StateUnavailable })
	st := r.Status()
	if st.Fault != nil || st.UnavailableSince.IsZero() || !strings.Contains(st.LastError, "connection refused") {
		t.Fatalf("Status during the outage = %+v; want no fault, UnavailableSince and the error", st)
	}
	if err := r.Retry(t.Context()); !errors.Is(err, projection.ErrNotFaulted) {
		t.Errorf("Retry while the store is unavailable = %v; want ErrNotFaulted (it clears by itself)", err)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if st := r.Status(); st.State != projection.StateStopped {
		t.Errorf("a runner stopped during an outage shows %q, want %q: it retries nothing", st.State, projection.StateStopped)
	}
	r, _ = startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: store,
		MaxAttempts: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})

	store.down.Store(false)
	waitFor(t, store, "balances", token)
	eventually(t, "the outage to clear", func() bool {
		s := r.Status()
		return s.State != projection.StateUnavailable && s.UnavailableSince.IsZero() && s.LastError == ""
	})
	ns, _ := projection.Active(t.Context(), store, "balances", "")
	if diff := cmp.Diff(fold(t, es), readAll(t, store, ns, streams)); diff != "" {
		t.Errorf("after the outage the read model differs from the fold (-want +got):\n%s", diff)
	}
}

// TestReservedDocumentIDsFault makes a handler write a document named like
// the runner's checkpoint: the write is refused and the projection faults
// visibly instead of losing the document or the checkpoint.
func TestReservedDocumentIDsFault(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	p := projection.New("named", "1", nil)
	p.On("Named", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
		tx.Put(rec.StreamID, rec.Data)
		return nil
	})
	if _, err := es.Append(t.Context(), "$checkpoint/0", eventstore.NoStream, []eventstore.Event{{Type: "Named", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	r, _ := startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm, MaxAttempts: 1})
	eventually(t, "a fault", func() bool { return r.Status().State == projection.StateFaulted })
	if f := r.Status().Fault; f == nil || f.Event.StreamID != "$checkpoint/0" || !strings.Contains(f.Err, "reserved") {
		t.Errorf("Fault = %+v; want the event that wrote a reserved ID", f)
	}
}

// A typed handler's retry gets the event decoded afresh, not the value the
// failed attempt changed; an event that does not decode faults the
// projection with the decoding error.
func TestTypedHandlerRetryAndDecodeFailure(t *testing.T) {
	type items struct {
		SKUs []string `json:"skus"`
	}
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	var attempts atomic.Int32
	reg := command.NewRegistry(nil)
	if err := command.Register[items](reg, "Added", nil); err != nil {
		t.Fatal(err)
	}
	p := projection.New("items", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e items) error {
		seen := strings.Join(e.SKUs, ",")
		e.SKUs[0] = "changed by attempt"
		if attempts.Add(1) == 1 {
			return errors.New("first attempt fails")
		}
		tx.Put(rec.StreamID, []byte(`"`+seen+`"`))
		return nil
	})
	if _, err := es.Append(t.Context(), "a", eventstore.NoStream, []eventstore.Event{{Type: "Added", Data: []byte(`{"skus":["x","y"]}`)}}); err != nil {
		t.Fatal(err)
	}
	bad, err := es.Append(t.Context(), "b", eventstore.NoStream, []eventstore.Event{{Type: "Added", Data: []byte(`{"skus":"not a list"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm,
		MaxAttempts: 2, Backoff: time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for r.Status().State != projection.StateFaulted {
		if time.Now().After(deadline) {
			t.Fatalf("never faulted on the malformed event: %+v", r.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
	f := r.Status().Fault
	if f == nil || f.Event.Position != bad.Position || !strings.Contains(f.Err, `decode event "Added"`) {
		t.Fatalf("Fault = %+v; want a decoding error on the event of b", f)
	}
	doc, err := rm.Get(t.Context(), p.Namespace(""), "a")
	if err != nil {
		t.Fatal(err)
	}
	if string(doc.Data) != `"x,y"` {
		t.Errorf("document a = %s; the retry's event was not decoded afresh", doc.Data)
	}
}

// slowControlStore holds the runner's writes to the control namespace (the
// published fault) until release is closed: the runner is faulted but busy.
type slowControlStore struct {
	readmodel.Store
	release chan struct{}
}

func (s *slowControlStore) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	if ns.Version == "$control" {
		select {
		case <-s.release:
		case <-ctx.Done():
			return readmodel.Result{}, ctx.Err()
		}
	}
	return s.Store.Apply(ctx, ns, b)
}

// TestRetryOfABusyFaultedRunner: a faulted Runner still publishing its
// fault does not take a Retry at once; Retry waits for it, and answers
// ErrNoAnswer (not ErrNotFaulted) when ctx ends first.
func TestRetryOfABusyFaultedRunner(t *testing.T) {
	es := memstore.New(nil)
	rm := &slowControlStore{Store: memstore.NewReadModels(nil), release: make(chan struct{})}
	var broken atomic.Bool
	broken.Store(true)
	p := balances("1")
	p.On("Bad", func(context.Context, *projection.Tx, eventstore.Record) error {
		if broken.Load() {
			return errors.New("not yet")
		}
		return nil
	})
	if _, err := es.Append(t.Context(), "a", eventstore.NoStream, []eventstore.Event{
		{Type: "Opened", Data: []byte(`{"owner":"x"}`)}, {Type: "Bad", Data: []byte(`{}`)}, {Type: "Deposited", Data: []byte(`{"amount":7}`)}}); err != nil {
		t.Fatal(err)
	}
	token := lastPosition(t, es)
	r, _ := startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm, MaxAttempts: 1})
	eventually(t, "a fault", func() bool { return r.Status().State == projection.StateFaulted })
	broken.Store(false)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := r.Retry(ctx); !errors.Is(err, projection.ErrNoAnswer) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Retry of a faulted runner busy publishing its fault = %v; want ErrNoAnswer and the deadline", err)
	}
	if st := r.Status(); st.State != projection.StateFaulted {
		t.Fatalf("after a Retry that was not taken: %s, want still faulted", st.State)
	}
	go func() { time.Sleep(100 * time.Millisecond); close(rm.release) }()
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := r.Retry(ctx); err != nil { // waits until the runner is free
		t.Fatalf("Retry once the runner is free = %v", err)
	}
	waitFor(t, rm, "balances", token)
}

// Retry of a Runner that stopped while faulted answers at once that no
// runner took it, rather than waiting for ctx or calling it not faulted.
func TestRetryOfAStoppedFaultedRunner(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	p := balances("1")
	p.On("Bad", func(context.Context, *projection.Tx, eventstore.Record) error { return errors.New("always fails") })
	if _, err := es.Append(t.Context(), "a", eventstore.NoStream, []eventstore.Event{{Type: "Bad", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	r, stop := startRunner(t, projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm, MaxAttempts: 1})
	eventually(t, "a fault", func() bool { return r.Status().State == projection.StateFaulted })
	_ = stop()
	start := time.Now()
	if err := r.Retry(t.Context()); !errors.Is(err, projection.ErrNoAnswer) || errors.Is(err, projection.ErrNotFaulted) {
		t.Errorf("Retry of a stopped faulted runner = %v; want ErrNoAnswer", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Retry of a stopped faulted runner took %s", d)
	}
}
