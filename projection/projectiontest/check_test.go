package projectiontest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/projection/projectiontest"
	"github.com/eventfold/eventfold/readmodel"
)

type balance struct {
	Owner  string `json:"owner"`
	Amount int64  `json:"amount"`
}

var balances = readmodel.Model[balance]{Indexes: []readmodel.Index[balance]{
	readmodel.By("owner", func(b balance) readmodel.Value { return readmodel.String(b.Owner) }),
}}

type opened struct{ Owner string }
type moved struct{ Amount int64 }
type closed struct{}

func balanceProjection() *projection.Projection {
	reg := command.NewRegistry(nil)
	if err := errors.Join(
		command.Register[opened](reg, "Opened", nil),
		command.Register[moved](reg, "Moved", nil),
		command.Register[closed](reg, "Closed", nil),
	); err != nil {
		panic(err)
	}
	p := projection.New("balances", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e opened) error {
		return projection.Store(tx, balances, rec.StreamID, balance{Owner: e.Owner})
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e moved) error {
		b, _, err := projection.Load(ctx, tx, balances, rec.StreamID)
		if err != nil {
			return err
		}
		b.Amount += e.Amount
		return projection.Store(tx, balances, rec.StreamID, b)
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, _ closed) error {
		tx.Delete(rec.StreamID)
		return nil
	})
	return p
}

// foldBalances is the specification of balanceProjection.
func foldBalances(docs map[string]balance, rec eventstore.Record) error {
	switch rec.Type {
	case "Opened":
		var e opened
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return err
		}
		docs[rec.StreamID] = balance{Owner: e.Owner}
	case "Moved":
		var e moved
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return err
		}
		b := docs[rec.StreamID]
		b.Amount += e.Amount
		docs[rec.StreamID] = b
	case "Closed":
		delete(docs, rec.StreamID)
	}
	return nil
}

type scenario struct {
	events *memstore.Store
	rm     *memstore.ReadModels
	acked  []projectiontest.Ack
	last   eventstore.Position
}

// run appends to a few streams concurrently, some of which are closed, and
// runs the projection in partitions until it has applied everything.
func run(t *testing.T, partitions int) *scenario {
	t.Helper()
	s := &scenario{events: memstore.New(nil), rm: memstore.NewReadModels(nil)}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i := range partitions {
		r, err := projection.NewRunner(projection.Config{Projection: balanceProjection(), Source: projection.LogSource(s.events, nil),
			Store: s.rm, Partitions: partitions, Partition: i, BatchSize: 7})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }() //nolint:errcheck
	}

	var mu sync.Mutex
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 10 {
				stream := fmt.Sprintf("acct-%d-%d", w, i%3)
				events := []eventstore.Event{{ID: eventstore.NewEventID(), Type: "Moved", Data: []byte(fmt.Sprintf(`{"Amount":%d}`, i+1))}}
				if i < 3 {
					events = []eventstore.Event{{ID: eventstore.NewEventID(), Type: "Opened", Data: []byte(fmt.Sprintf(`{"Owner":"o%d"}`, w%2))}}
				}
				if i == 9 && w == 0 {
					events = append(events, eventstore.Event{ID: eventstore.NewEventID(), Type: "Closed", Data: []byte(`{}`)})
				}
				res, err := s.events.Append(ctx, stream, eventstore.Any, events)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				s.acked = append(s.acked, projectiontest.AckOf(stream, res, events))
				if s.last.Before(res.Position) {
					s.last = res.Position
				}
				mu.Unlock()
			}
		}()
	}
	writers.Wait()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := projection.WaitFor(wctx, s.rm, "balances", "", s.last); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConsistentScenarioPasses(t *testing.T) {
	for _, partitions := range []int{1, 3} {
		t.Run(fmt.Sprintf("partitions=%d", partitions), func(t *testing.T) {
			s := run(t, partitions)
			log := projectiontest.CheckLog(t, s.events, s.acked)
			if len(log) != 4*10+1 {
				t.Errorf("CheckLog returned %d records, want 41", len(log))
			}
			projectiontest.CheckReadModel(t, s.events, s.rm, "balances", "", balances, foldBalances)
		})
	}
}

// failures runs check against a recorder and returns what it reported.
func failures(check func(t testing.TB)) string {
	r := &recorder{}
	done := make(chan struct{})
	go func() { defer close(done); check(r) }()
	<-done
	return strings.Join(r.msgs, "\n")
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Error(args ...any)         { r.msgs = append(r.msgs, fmt.Sprint(args...)) }
func (r *recorder) Errorf(f string, a ...any) { r.msgs = append(r.msgs, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }

// faulty hides or repeats an event of the log it reads, as a broken store
// would.
type faulty struct {
	eventstore.Store
	hide, repeat string
}

func (f faulty) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	recs, err := f.Store.ReadAll(ctx, after, limit)
	var out []eventstore.Record
	for _, r := range recs {
		if r.ID == f.hide {
			continue
		}
		out = append(out, r)
		if r.ID == f.repeat {
			out = append(out, r)
		}
	}
	return out, err
}

func TestCheckLogReportsProblems(t *testing.T) {
	defer projectiontest.SetVisibility(50 * time.Millisecond)()
	s := run(t, 1)
	victim := s.acked[5].EventIDs[0]
	tests := []struct {
		name  string
		store eventstore.Store
		acked []projectiontest.Ack
		want  string
	}{
		{"event missing from the log", faulty{Store: s.events, hide: victim}, s.acked, "acknowledged event " + victim + " " + "(stream"},
		{"event twice in the log", faulty{Store: s.events, repeat: victim}, s.acked, "event ID " + victim + " appears twice"},
		{"acknowledged append never stored", s.events,
			append(s.acked[:len(s.acked):len(s.acked)], projectiontest.Ack{StreamID: "acct-0-0", Result: eventstore.AppendResult{StreamVersion: 99}, EventIDs: []string{eventstore.NewEventID()}}),
			"is not in the log"},
		{"wrong reported position", s.events,
			[]projectiontest.Ack{{StreamID: s.acked[0].StreamID, Result: eventstore.AppendResult{StreamVersion: s.acked[0].Result.StreamVersion, Position: eventstore.Position{Commit: 1 << 40}}, EventIDs: s.acked[0].EventIDs}},
			"the append reported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := failures(func(r testing.TB) { projectiontest.CheckLog(r, tt.store, tt.acked) })
			if !strings.Contains(got, tt.want) {
				t.Errorf("CheckLog reported:\n%s\nwant a report containing %q", got, tt.want)
			}
		})
	}
	if got := failures(func(r testing.TB) { projectiontest.CheckLog(r, s.events, s.acked) }); got != "" {
		t.Errorf("CheckLog on the intact store reported:\n%s", got)
	}
}

func TestCheckReadModelReportsProblems(t *testing.T) {
	defer projectiontest.SetVisibility(50 * time.Millisecond)()
	ctx := t.Context()
	tests := []struct {
		name   string
		damage func(t *testing.T, rm *memstore.ReadModels, ns readmodel.Namespace)
		want   string
	}{
		{"document changed", func(t *testing.T, rm *memstore.ReadModels, ns readmodel.Namespace) {
			w, _ := balances.Put("acct-1-1", readmodel.Revision{Commit: 1 << 62}, balance{Owner: "o1", Amount: -1})
			apply(t, rm, ns, w)
		}, "differs from the fold"},
		{"deleted document back", func(t *testing.T, rm *memstore.ReadModels, ns readmodel.Namespace) {
			w, _ := balances.Put("acct-0-0", readmodel.Revision{Commit: 1 << 62}, balance{Owner: "o0"})
			apply(t, rm, ns, w)
		}, "differs from the fold"},
		{"document never made, found by index", func(t *testing.T, rm *memstore.ReadModels, ns readmodel.Namespace) {
			w, _ := balances.Put("stranger", readmodel.Revision{Commit: 1 << 62}, balance{Owner: "o1"})
			apply(t, rm, ns, w)
		}, `index "owner" lists other documents`},
		{"checkpoint ahead of the log", func(t *testing.T, rm *memstore.ReadModels, ns readmodel.Namespace) {
			ahead := eventstore.Position{Commit: 1 << 40, Sequence: 1}
			data, _ := json.Marshal(map[string]any{"position": ahead})
			apply(t, rm, ns, readmodel.Write{ID: "$checkpoint/0", Revision: readmodel.Revision(ahead), Data: data})
		}, "ahead of the head of the log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := run(t, 1)
			ns, err := projection.Active(ctx, s.rm, "balances", "")
			if err != nil {
				t.Fatal(err)
			}
			check := func(r testing.TB) {
				projectiontest.CheckReadModel(r, s.events, s.rm, "balances", "", balances, foldBalances)
			}
			if got := failures(check); got != "" {
				t.Fatalf("CheckReadModel before the damage reported:\n%s", got)
			}
			tt.damage(t, s.rm, ns)
			if got := failures(check); !strings.Contains(got, tt.want) {
				t.Errorf("CheckReadModel reported:\n%s\nwant a report containing %q", got, tt.want)
			}
		})
	}
}

func apply(t *testing.T, rm *memstore.ReadModels, ns readmodel.Namespace, w readmodel.Write) {
	t.Helper()
	if _, err := rm.Apply(t.Context(), ns, readmodel.Batch{Writes: []readmodel.Write{w}}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpoints(t *testing.T) {
	s := run(t, 3)
	cps, err := projectionops.Checkpoints(t.Context(), s.rm, "balances", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 3 {
		t.Fatalf("Checkpoints = %v, want 3 partitions", cps)
	}
	for i, cp := range cps {
		if cp.Before(s.last) {
			t.Errorf("partition %d checkpoint %s, before the last append %s that WaitFor saw applied", i, cp, s.last)
		}
	}
	if _, err := projectionops.Checkpoints(t.Context(), s.rm, "nothing", ""); !errors.Is(err, projection.ErrNotReady) {
		t.Errorf("Checkpoints of an unknown projection: %v, want ErrNotReady", err)
	}
}
