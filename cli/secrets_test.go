package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// password is the secret no output of the command line may show.
const password = "s3cr3t-pw"

// TestNoOutputShowsAPassword runs commands with connection strings that
// carry a password and cannot work, in URL and in key/value form, and with
// help texts whose defaults hold one: no error, output or log shows it.
func TestNoOutputShowsAPassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(closed)
	pgCases := map[string]string{
		"postgres URL closed port":        "postgres://eventfold:" + password + "@" + closed + "/eventfold?sslmode=disable&connect_timeout=5",
		"postgres URL invalid port":       "postgres://eventfold:" + password + "@127.0.0.1:x/eventfold",
		"postgres URL bad option":         "postgres://eventfold:" + password + "@127.0.0.1/eventfold?sslmode=bogus",
		"postgres key/value closed port":  "host=" + host + " port=" + port + " user=eventfold password=" + password + " dbname=eventfold sslmode=disable connect_timeout=5",
		"postgres key/value quoted":       "host=" + host + " port=" + port + " user=eventfold password='" + password + " x' dbname=eventfold sslmode=disable",
		"postgres key/value invalid port": "host=127.0.0.1 port=x user=eventfold password=" + password + " dbname=eventfold",
		"postgres key/value bad option":   "host=127.0.0.1 user=eventfold password=" + password + " sslmode=bogus",
		"postgres key/value unterminated": "host=127.0.0.1 password='" + password,
	}
	for name, url := range pgCases {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{{"migrate"}, {"streams", "list"}} {
				checkNoPassword(t, Options{}, append(args, "--postgres-url", url)...)
			}
		})
	}
	redisCases := map[string]string{
		"redis URL closed port":   "redis://:" + password + "@" + closed + "/0",
		"redis URL invalid port":  "redis://:" + password + "@127.0.0.1:x/0",
		"redis URL bad database":  "redis://user:" + password + "@127.0.0.1:6379/x",
		"redis URL bad option":    "redis://:" + password + "@127.0.0.1:6379/0?dial_timeout=never",
		"redis URL bad scheme":    "http://:" + password + "@127.0.0.1:6379/0",
		"redis URL bad escape":    "redis://:" + password + "%zz@127.0.0.1:6379/0",
		"redis key/value instead": "host=127.0.0.1 password=" + password,
	}
	for name, url := range redisCases {
		t.Run(name, func(t *testing.T) {
			checkNoPassword(t, Options{}, "projections", "status", "--redis-url", url)
		})
	}
	t.Run("help with secrets in the environment", func(t *testing.T) {
		t.Setenv("EVENTFOLD_POSTGRES_URL", "host=127.0.0.1 password="+password)
		t.Setenv("EVENTFOLD_REDIS_URL", "redis://:"+password+"@127.0.0.1:6379/0")
		checkNoPassword(t, Options{}, "--help")
		checkNoPassword(t, Options{}, "migrate", "--help")
	})
	t.Run("help with secrets in the application's defaults", func(t *testing.T) {
		opts := Options{Defaults: Defaults{PostgresURL: "postgres://app:" + password + "@db/app", RedisURL: "redis://:" + password + "@cache:6379/0"}}
		checkNoPassword(t, opts, "--help")
		opts.Defaults.PostgresURL = "host=db user=app password=" + password
		checkNoPassword(t, opts, "streams", "--help")
	})
}

// checkNoPassword runs the command line and fails if anything it returned,
// printed or logged shows the password.
func checkNoPassword(t *testing.T, opts Options, args ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	opts.Stdout, opts.Stderr = &out, &errOut
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := Execute(ctx, args, opts)
	all := out.String() + errOut.String()
	if err != nil {
		all += err.Error()
	}
	if strings.Contains(all, password) || strings.Contains(all, strings.ReplaceAll(password, "-", "%2D")) {
		t.Errorf("eventfold %s shows the password:\nerror: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
}
