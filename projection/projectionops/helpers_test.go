package projectionops_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

type account struct {
	Owner   string `json:"owner"`
	Balance int64  `json:"balance"`
}

var accounts readmodel.Model[account]

type opened struct {
	Owner string `json:"owner"`
}
type deposited struct {
	Amount int64 `json:"amount"`
}

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
		return projection.Store(tx, accounts, rec.StreamID, account{Owner: e.Owner})
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
		return projection.Store(tx, accounts, rec.StreamID, a)
	})
	return p
}

func appendAccounts(t *testing.T, es eventstore.Store, streams, deposits int) (eventstore.Position, []string) {
	t.Helper()
	return appendAccountsFrom(t, es, 0, streams, deposits)
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

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
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
