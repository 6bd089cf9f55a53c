package main

import (
	"net/http"
	"testing"
	"time"
)

// The API's server bounds every phase of a connection, and lets a response
// take longer than a query may wait for its consistency token.
func TestServerTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), 20*time.Second)
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s is not set", name)
		}
	}
	if srv.WriteTimeout <= 20*time.Second {
		t.Errorf("WriteTimeout %s cuts off a query waiting 20s for its token", srv.WriteTimeout)
	}
}
