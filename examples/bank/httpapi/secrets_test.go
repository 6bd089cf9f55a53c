package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/examples/bank/app"
	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
)

// TestSecretsStayOutOfStartupErrors starts the bank (which serves this
// API) with connection URLs that carry a password and cannot work: the
// errors and the logs must not show the password.
func TestSecretsStayOutOfStartupErrors(t *testing.T) {
	const secret = "Sup3r-s3cret_pw"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tests := map[string]func(c *app.Config){
		"postgres closed port": func(c *app.Config) {
			c.PostgresURL = "postgres://eventfold:" + secret + "@" + closed + "/eventfold?sslmode=disable"
		},
		"postgres invalid port": func(c *app.Config) { c.PostgresURL = "postgres://eventfold:" + secret + "@127.0.0.1:x/eventfold" },
		"redis closed port":     func(c *app.Config) { c.RedisURL = "redis://:" + secret + "@" + closed + "/0" },
		"redis invalid port":    func(c *app.Config) { c.RedisURL = "redis://:" + secret + "@127.0.0.1:x/0" },
	}
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := banktest.Config(t, false)
			var logs bytes.Buffer
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			breakIt(&cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			a, err := app.New(ctx, cfg)
			if err == nil {
				a.Close()
				t.Fatal("app.New succeeded; want a connection error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
				t.Errorf("app.New reveals the password:\nerror: %v\nlogs: %s", err, logs.String())
			}
		})
	}
}
