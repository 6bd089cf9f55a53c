package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// --tenant reaches the tenant's namespace in projections skip, status and
// rebuild, and confines the console: tenant acme's orders projection
// faults, is resolved only when the tenant is named, is measured against
// acme's head, and is rebuilt from acme's own log.
func TestTenantFlag(t *testing.T) {
	ctx := t.Context()
	env := newShopEnv(t)
	store, rm, app, run := env.store, env.rm, env.app, env.run(t)
	acme, err := store.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	appendTo := func(s *pgstore.Store, stream, typ string) eventstore.Position {
		t.Helper()
		res, err := s.Append(ctx, stream, eventstore.Any, []eventstore.Event{{Type: typ, Data: []byte(`{}`),
			Metadata: eventstore.Metadata{CorrelationID: "flow-" + stream}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	appendTo(acme, "order-a", "OrderPlaced")
	acmeHead := appendTo(acme, "order-p", "Poison")
	appendTo(store, "order-d", "OrderPlaced") // the default tenant moves the global head

	// The application's orders projection, run for acme over acme's log.
	configs, err := app.options(nil, nil).Projections(ctx, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	pc := configs[0]
	pc.Tenant, pc.Source, pc.Store = "acme", projection.LogSource(acme, nil), rm
	runner, err := projection.NewRunner(pc)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRunner := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- runner.Run(runCtx) }()
	t.Cleanup(func() { stopRunner(); <-ran })
	deadline := time.Now().Add(15 * time.Second)
	for {
		faults, err := projectionops.Faults(ctx, rm, "orders", "acme")
		if err != nil {
			t.Fatal(err)
		}
		if len(faults) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("acme's orders did not fault on the poison event")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Without names, status shows the fault of every catalogued projection.
	for _, args := range [][]string{{"projections", "status"}, {"projections", "status", "--tenant", "acme"}} {
		if out, err := run(args...); err != nil || !strings.Contains(out, "FAULTED orders version 1 partition 0") {
			t.Errorf("%s while acme's orders is faulted: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := run("projections", "skip", "orders"); err == nil {
		t.Error("skip without --tenant found acme's fault")
	}
	if out, err := run("projections", "skip", "orders", "--tenant", "acme"); err != nil || !strings.Contains(out, "skipped event") {
		t.Fatalf("skip --tenant acme: %v\n%s", err, out)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := projection.WaitFor(wctx, rm, "orders", "acme", acmeHead); err != nil {
		t.Fatalf("acme's orders after the skip: %v", err)
	}

	out, err := run("projections", "status", "--tenant", "acme", "--json")
	var lines []partitionStatus
	if err != nil || json.Unmarshal([]byte(out), &lines) != nil || len(lines) != 1 {
		t.Fatalf("status --tenant acme: %v\n%s", err, out)
	}
	if l := lines[0]; l.Tenant != "acme" || l.Head != acmeHead.String() || l.LagEvents != 0 || l.Position != acmeHead.String() {
		t.Errorf("status of acme = %+v, want caught up with acme's head %s", l, acmeHead)
	}
	// Without --tenant every catalogued tenant shows, each against its
	// own head.
	out, err = run("projections", "status", "--json")
	if err != nil || json.Unmarshal([]byte(out), &lines) != nil || len(lines) != 1 || lines[0].Head != acmeHead.String() {
		t.Errorf("status: %v\n%s", err, out)
	}

	serveConsole(t, acmeHead)

	stopRunner()
	<-ran
	ran <- nil
	app.broken.Store(false)
	out, err = run("projections", "rebuild", "orders", "--tenant", "acme", "--json")
	if err != nil {
		t.Fatalf("rebuild --tenant acme: %v\n%s", err, out)
	}
	ns, err := projection.Active(ctx, rm, "orders", "acme")
	if err != nil || ns.Version != "1~1" {
		t.Fatalf("acme's active version after the rebuild: %+v, %v", ns, err)
	}
	docs, err := rm.GetMany(ctx, ns, []string{"order-a", "fixed-order-p", "order-d"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	if strings.Join(ids, ",") != "order-a,fixed-order-p" {
		t.Errorf("acme's rebuilt read model holds %v, want acme's order-a and fixed-order-p only", ids)
	}
	if _, err := projection.Active(ctx, rm, "orders", ""); !errors.Is(err, projection.ErrNotReady) {
		t.Errorf("the default tenant's orders after acme's rebuild: %v, want never built", err)
	}
	if _, err := rm.Get(ctx, readmodel.Namespace{Projection: "orders", Version: "1"}, "order-d"); !errors.Is(err, readmodel.ErrNotFound) {
		t.Errorf("the default tenant's namespace was written: %v", err)
	}
}

// serveConsole runs console --tenant acme and checks it shows acme alone.
func serveConsole(t *testing.T, acmeHead eventstore.Position) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Execute(ctx, []string{"console", "--listen", "127.0.0.1:0", "--tenant", "acme"}, Options{Stdout: w, Stderr: io.Discard})
		w.Close()
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("console --tenant acme: %v", err)
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("console printed %q: %v", line, err)
	}
	go io.Copy(io.Discard, out)
	base, _, _ := strings.Cut(strings.TrimPrefix(line, "console on "), " ")
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := get("api/streams"); status != 200 || !strings.Contains(body, `"order-a"`) || strings.Contains(body, `"order-d"`) {
		t.Errorf("streams: %d %s, want acme's", status, body)
	}
	if status, body := get("api/streams?tenant=globex"); status != http.StatusBadRequest {
		t.Errorf("another tenant's streams: %d %s", status, body)
	}
	var ps []struct{ Tenant, Head, State string }
	status, body := get("api/projections")
	if err := json.Unmarshal([]byte(body), &ps); status != 200 || err != nil || len(ps) != 1 || ps[0].Tenant != "acme" ||
		ps[0].Head != acmeHead.String() || ps[0].State != "caught up" {
		t.Errorf("projections: %d %s, want acme's, caught up with acme's head %s", status, body, acmeHead)
	}
	if status, body := get("api/correlation/flow-order-a"); status != 200 || !strings.Contains(body, `"tenant":"acme"`) {
		t.Errorf("correlation: %d %s", status, body)
	}
}

// projections status measures a projection that reads every tenant's log
// against that log's head, not the default tenant's.
func TestStatusOfAllTenantsProjection(t *testing.T) {
	ctx := t.Context()
	env := newShopEnv(t)
	store, rm, app, run := env.store, env.rm, env.app, env.run(t)
	acme, err := store.ForTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	place := func(s *pgstore.Store, stream string) eventstore.Position {
		t.Helper()
		res, err := s.Append(ctx, stream, eventstore.NoStream, []eventstore.Event{{Type: "OrderPlaced", Data: []byte(`{}`)}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	place(store, "order-d")
	applied := place(acme, "order-a1")
	configs, err := app.options(nil, nil).Projections(ctx, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	pc := configs[0]
	pc.Source, pc.Store = projection.LogSource(store.AllTenants(), nil), rm
	runner, err := projection.NewRunner(pc)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRunner := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- runner.Run(runCtx) }()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = projection.WaitFor(wctx, rm, pc.Projection.Name(), "", applied)
	cancel()
	stopRunner()
	<-ran
	if err != nil {
		t.Fatal(err)
	}
	head := place(acme, "order-a2") // the runner has stopped: a lag of one

	out, err := run("projections", "status", "--json")
	var lines []partitionStatus
	if err != nil || json.Unmarshal([]byte(out), &lines) != nil || len(lines) != 1 {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if l := lines[0]; l.Head != head.String() || l.LagEvents != 1 || l.Position != applied.String() {
		t.Errorf("status of a projection over every tenant = %+v; want 1 event behind every tenant's head %s", l, head)
	}
}
