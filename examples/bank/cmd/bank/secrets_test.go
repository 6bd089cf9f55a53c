package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// password is the secret no output of the bank may show.
const password = "s3cr3t-pw"

// TestNoOutputShowsAPassword runs the bank binary with connection strings
// that carry a password, in URL and in key/value form, taken from flags and
// from the environment: neither its help nor its errors show the password.
func TestNoOutputShowsAPassword(t *testing.T) {
	bin := buildBank(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(closed)
	pgURL := "postgres://eventfold:" + password + "@" + closed + "/eventfold?sslmode=disable"
	pgDSN := "host=" + host + " port=" + port + " user=eventfold password=" + password + " dbname=eventfold sslmode=disable"
	redisURL := "redis://:" + password + "@" + closed + "/0"
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"-h, URLs from the environment", []string{"EVENTFOLD_POSTGRES_URL=" + pgURL, "EVENTFOLD_REDIS_URL=" + redisURL}, []string{"-h"}},
		{"-h, DSN from the environment", []string{"EVENTFOLD_POSTGRES_URL=" + pgDSN}, []string{"-h"}},
		{"--help of the commands, from the environment", []string{"EVENTFOLD_POSTGRES_URL=" + pgDSN, "EVENTFOLD_REDIS_URL=" + redisURL}, []string{"--help"}},
		{"serve, URL", nil, []string{"-postgres", pgURL}},
		{"serve, DSN", nil, []string{"-postgres", pgDSN}},
		{"serve, DSN from the environment", []string{"EVENTFOLD_POSTGRES_URL=" + pgDSN}, nil},
		{"serve, invalid DSN", nil, []string{"-postgres", "host=" + host + " port=x password=" + password}},
		{"serve, bad Redis URL", nil, []string{"-redis", "redis://:" + password + "@127.0.0.1:x/0"}},
		{"worker, DSN", nil, []string{"worker", "--postgres-url", pgDSN}},
		{"streams list, URL", nil, []string{"streams", "list", "--postgres-url", pgURL}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			cmd.Env = append(cleanEnv(), tc.env...)
			out, err := cmd.CombinedOutput()
			if strings.Contains(string(out), password) {
				t.Errorf("bank %s (%v) shows the password:\n%s", strings.Join(tc.args, " "), err, out)
			}
		})
	}
}

// cleanEnv is the environment without the bank's own settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EVENTFOLD_") && !strings.HasPrefix(kv, "BANK_") {
			env = append(env, kv)
		}
	}
	return env
}
