package projectionops_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// TestHealthCheckOfRunners: a HealthCheck over real Runners is healthy
// while they apply the log, and names the one stopped on a failing event.
func TestHealthCheckOfRunners(t *testing.T) {
	es := memstore.New(nil)
	rm := memstore.NewReadModels(nil)
	good := projection.New("good", "1", nil)
	good.On("E", func(context.Context, *projection.Tx, eventstore.Record) error { return nil })
	bad := projection.New("bad", "1", nil)
	bad.On("E", func(_ context.Context, _ *projection.Tx, rec eventstore.Record) error {
		if rec.StreamID == "poison" {
			return errors.New("cannot apply")
		}
		return nil
	})
	rg, _ := startRunner(t, projection.Config{Projection: good, Source: projection.LogSource(es, nil), Store: rm})
	rb, _ := startRunner(t, projection.Config{Projection: bad, Source: projection.LogSource(es, nil), Store: rm, MaxAttempts: 2, Backoff: time.Millisecond})
	h, err := projectionops.NewHealthCheck(projectionops.RunnerStatuses(rg, rb), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := es.Append(t.Context(), "fine", eventstore.NoStream, []eventstore.Event{{Type: "E", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"good", "bad"} {
		if err := projection.WaitFor(t.Context(), rm, name, "", res.Position); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Check(); err != nil {
		t.Errorf("both caught up: Check = %v", err)
	}
	if _, err := es.Append(t.Context(), "poison", eventstore.NoStream, []eventstore.Event{{Type: "E", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := h.Check()
		if err != nil {
			if !errors.Is(err, projectionops.ErrUnhealthy) {
				t.Fatalf("Check = %v, want ErrUnhealthy", err)
			}
			r := h.Report()
			for _, p := range r.Partitions {
				if (p.Projection == "bad") != (p.Problem != "") {
					t.Errorf("partition %+v: only bad should have a problem", p)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the faulted runner still looks healthy")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStoreOutageIsUnavailableNotFaulted cuts the read-model store: the
// runner keeps retrying and reports StateUnavailable, never a fault; a
// health check stays 200 until the outage outlasts UnavailableAfter, then
// answers 503 naming the outage.
func TestStoreOutageIsUnavailableNotFaulted(t *testing.T) {
	es := memstore.New(nil)
	store := &flakyStore{Store: memstore.NewReadModels(nil)}
	token, _ := appendAccounts(t, es, 3, 1)
	r, _ := startRunner(t, projection.Config{Projection: balances("1"), Source: projection.LogSource(es, nil), Store: store,
		Backoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	waitFor(t, store, "balances", token)
	const threshold = 3 * time.Second
	h, err := projectionops.NewHealthCheck(projectionops.RunnerStatuses(r), &projectionops.HealthOptions{UnavailableAfter: threshold})
	if err != nil {
		t.Fatal(err)
	}
	probe := func() (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
		return w.Code, w.Body.String()
	}

	store.down.Store(true)
	cut := time.Now()
	token, _ = appendAccountsFrom(t, es, 100, 2, 1)
	sawUnavailable := false
	for time.Since(cut) < 2*time.Second {
		st := r.Status()
		if st.State == projection.StateFaulted || st.Fault != nil {
			t.Fatalf("Status %s into the outage = %s %+v; want not faulted", time.Since(cut).Round(time.Millisecond), st.State, st.Fault)
		}
		if st.State == projection.StateUnavailable {
			sawUnavailable = true
			if st.UnavailableSince.Before(cut) || st.LastError == "" {
				t.Errorf("Status during the outage = %+v; want UnavailableSince after the cut and LastError", st)
			}
		}
		if code, body := probe(); code != http.StatusOK {
			t.Fatalf("/healthz %s into the outage = %d %s; want 200", time.Since(cut).Round(time.Millisecond), code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawUnavailable {
		t.Errorf("Status never showed %q during a 2 s outage", projection.StateUnavailable)
	}
	eventually(t, "the health check to give up on the store", func() bool { code, _ := probe(); return code != http.StatusOK })
	if d := time.Since(cut); d < threshold {
		t.Errorf("/healthz failed %s into the outage, before UnavailableAfter %s", d, threshold)
	}
	if code, body := probe(); code != http.StatusServiceUnavailable || !strings.Contains(body, "store unavailable for") || !strings.Contains(body, "connection refused") {
		t.Errorf("/healthz after the threshold = %d %s; want 503 naming the outage and its error", code, body)
	}

	store.down.Store(false)
	waitFor(t, store, "balances", token)
	eventually(t, "health back", func() bool {
		code, _ := probe()
		return code == http.StatusOK && r.Status().State != projection.StateUnavailable
	})
}
