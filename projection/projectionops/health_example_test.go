package projectionops_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// ExampleNewHealthCheck serves a probe over a Runner: 200 while it applies
// the log, 503 once it is faulted or stalled.
func ExampleNewHealthCheck() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := memstore.New(nil)
	p := projection.New("orders", "1", nil)
	p.On("OrderPlaced", func(context.Context, *projection.Tx, eventstore.Record) error { return nil })
	runner, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(events, nil), Store: memstore.NewReadModels(nil)})
	if err != nil {
		log.Fatal(err)
	}
	go runner.Run(ctx) //nolint:errcheck // ends with ctx

	health, err := projectionops.NewHealthCheck(projectionops.RunnerStatuses(runner), nil)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health) // for the orchestrator's readiness probe

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	fmt.Println(w.Code, health.Check())
	// Output: 200 <nil>
}
