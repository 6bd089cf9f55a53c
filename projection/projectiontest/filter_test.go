package projectiontest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/projection/projectiontest"
)

// countingStore counts the records its filtered reads deliver.
type countingStore struct {
	*memstore.Store
	delivered atomic.Int64
}

func (s *countingStore) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	page, err := s.Store.ReadAllFiltered(ctx, after, f, limit)
	s.delivered.Add(int64(len(page.Records)))
	return page, err
}

// wholeLog hides every optional capability of a store: a LogSource over
// it reads the whole log.
type wholeLog struct{ eventstore.Store }

// TestFilteredProjectionMatchesUnfiltered runs the balances projection,
// with a forget hook, over a log mostly of events it does not handle, the
// last ones among them, once reading the log filtered by the types it
// handles and once reading all of it: both end at the same documents, the
// fold of the log, with their checkpoints at the head of the log, and the
// filtered one is handed only the events it handles.
func TestFilteredProjectionMatchesUnfiltered(t *testing.T) {
	store := &countingStore{Store: memstore.New(nil)}
	ctx := t.Context()
	handled := 0
	appendEvents := func(stream string, events ...eventstore.Event) eventstore.Position {
		t.Helper()
		res, err := store.Append(ctx, stream, eventstore.Any, events)
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	noise := func(i int) eventstore.Event {
		return eventstore.Event{Type: "Noise", Data: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	for i := range 40 {
		stream := fmt.Sprintf("acct-%d", i%5)
		ev := eventstore.Event{Type: "Moved", Data: fmt.Appendf(nil, `{"Amount":%d}`, i)}
		if i < 5 {
			ev = eventstore.Event{Type: "Opened", Data: fmt.Appendf(nil, `{"Owner":"o%d"}`, i)}
		}
		appendEvents(stream, ev)
		handled++
		for j := range 1 + i%7 {
			appendEvents(fmt.Sprintf("noise-%d", j), noise(i*10+j), noise(i*10+j+1))
		}
		if i == 20 {
			appendEvents("acct-4", eventstore.Event{Type: "Closed", Data: []byte(`{}`)})
			forgotten, _ := json.Marshal(command.SubjectForgotten{Subject: "acct-3"})
			appendEvents(command.ForgottenStream, eventstore.Event{Type: command.SubjectForgottenType, Data: forgotten})
			handled += 2
		}
	}
	var head eventstore.Position
	for i := range 30 {
		head = appendEvents("noise-tail", noise(1000+i))
	}

	filtered := runToHead(t, store, head)
	whole := runToHead(t, wholeLog{store}, head)
	if n := store.delivered.Load(); n != int64(handled) {
		t.Errorf("the filtered Runner was handed %d events, want the %d it handles", n, handled)
	}
	for name, rm := range map[string]*memstore.ReadModels{"filtered": filtered, "whole log": whole} {
		t.Run(name, func(t *testing.T) {
			projectiontest.CheckReadModel(t, store, rm, "balances", "", balances, foldForgetting)
			cps, err := projectionops.Checkpoints(ctx, rm, "balances", "")
			if err != nil || len(cps) != 1 || cps[0] != head {
				t.Errorf("checkpoints = %v, %v; want the head %v", cps, err, head)
			}
		})
	}
}

// runToHead runs the balances projection, with a forget hook, over store's
// log until its Runner's checkpoint is head, and returns its read model.
func runToHead(t *testing.T, store eventstore.Store, head eventstore.Position) *memstore.ReadModels {
	t.Helper()
	rm := memstore.NewReadModels(nil)
	p := balanceProjection().OnForget(func(ctx context.Context, tx *projection.Tx, subject string) error {
		tx.Delete(subject)
		return nil
	})
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(store, nil), Store: rm, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := projection.WaitFor(ctx, rm, "balances", "", head); err != nil {
		t.Fatalf("the Runner did not reach the head %v: %v (status %+v)", head, err, r.Status())
	}
	for r.Status().Position != head || r.Status().LagEvents != 0 {
		if ctx.Err() != nil {
			t.Fatalf("the Runner's status does not reach the head %v: %+v", head, r.Status())
		}
		time.Sleep(time.Millisecond)
	}
	return rm
}

// foldForgetting is foldBalances with the forget hook: a forgotten
// subject's document goes.
func foldForgetting(docs map[string]balance, rec eventstore.Record) error {
	if rec.Type == command.SubjectForgottenType {
		var e command.SubjectForgotten
		if err := json.Unmarshal(rec.Data, &e); err != nil {
			return err
		}
		delete(docs, e.Subject)
		return nil
	}
	return foldBalances(docs, rec)
}
