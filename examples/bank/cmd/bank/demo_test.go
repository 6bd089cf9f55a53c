package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/examples/bank/app"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// The session that `make run` plays, checked step by step by runDemo
// itself (each step has an expected status).
func TestDemo(t *testing.T) {
	servicetest.Postgres(t)
	servicetest.Redis(t)
	var out bytes.Buffer
	cfg := app.Config{PostgresURL: servicetest.PostgresURL(), RedisURL: servicetest.RedisURL()}
	if err := runDemo(t.Context(), cfg, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"< 422 Unprocessable Entity", `"status": "completed"`, `"kind": "transfer out"`, "That's the tour"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
