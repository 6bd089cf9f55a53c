package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventfold/eventfold/examples/bank/internal/banktest"
	"github.com/eventfold/eventfold/examples/internal/servicetest"
)

// The split deployment the README describes, as separate OS processes of
// the bank's binary on one schema: a relay, a projector and two API
// replicas. Commands go through one API; both read them back with the
// consistency token; every process stops cleanly on SIGTERM.
func TestSplitDeploymentAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bank and runs four processes")
	}
	schema := servicetest.Postgres(t)
	prefix := servicetest.Redis(t)
	topic := servicetest.NATS(t)
	bin := filepath.Join(t.TempDir(), "bank")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	common := []string{"-schema", schema, "-prefix", prefix, "-topic", topic, "-wait", "15s",
		"-postgres", servicetest.PostgresURL(), "-redis", servicetest.RedisURL(), "-nats", servicetest.NATSURL()}
	// The relay migrates the schema first, so that the others do not race
	// to create it.
	relay := startBank(t, bin, append([]string{"-mode=relay"}, common...)...)
	time.Sleep(500 * time.Millisecond)
	projector := startBank(t, bin, append([]string{"-mode=projector"}, common...)...)
	addr1, addr2 := freeAddr(t), freeAddr(t)
	api1 := startBank(t, bin, append([]string{"-mode=api", "-addr", addr1}, common...)...)
	api2 := startBank(t, bin, append([]string{"-mode=api", "-addr", addr2}, common...)...)
	one, two := "http://"+addr1, "http://"+addr2
	api1.waitServing(t, one)
	api2.waitServing(t, two)

	banktest.Want(t, 201, "POST", one+"/accounts", `{"id":"ada","owner":"ada","overdraft_limit":1000}`)
	banktest.Want(t, 201, "POST", one+"/accounts", `{"id":"bob","owner":"bob"}`)
	dep := banktest.Want(t, 200, "POST", one+"/accounts/ada/deposits", `{"amount":5000}`)
	for _, base := range []string{one, two} {
		ada := banktest.Want(t, 200, "GET", base+"/accounts/ada?token="+dep.Token(), "")
		if ada.Num("balance") != 5000 {
			t.Errorf("%s: ada after the deposit: %s", base, ada.Raw)
		}
	}
	tr := banktest.Want(t, 202, "POST", one+"/transfers", `{"id":"t1","from":"ada","to":"bob","amount":5500}`)
	done := banktest.Transfer(t, two, "t1", tr.Token())
	if done.Str("status") != "completed" {
		t.Fatalf("transfer: %s", done.Raw)
	}
	for _, base := range []string{one, two} {
		bob := banktest.Want(t, 200, "GET", base+"/accounts/bob?token="+done.Str("token"), "")
		if bob.Num("balance") != 5500 {
			t.Errorf("%s: bob after the transfer: %s", base, bob.Raw)
		}
	}

	for _, p := range []*bankProcess{api1, api2, projector, relay} {
		p.stop(t)
	}
}

type bankProcess struct {
	cmd    *exec.Cmd
	mode   string
	mu     sync.Mutex
	logs   bytes.Buffer
	exited chan struct{}
	err    error
}

func (p *bankProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func (p *bankProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func startBank(t *testing.T, bin string, args ...string) *bankProcess {
	t.Helper()
	p := &bankProcess{cmd: exec.Command(bin, args...), mode: args[0], exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitServing waits until the process answers HTTP at base, failing if it
// exits first.
func (p *bankProcess) waitServing(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("bank %s exited before serving: %v\n%s", p.mode, p.err, p.output())
		default:
		}
		resp, err := http.Get(base + "/accounts/nobody")
		if err == nil {
			resp.Body.Close()
			// Still running a moment later: it serves, not just starts.
			time.Sleep(300 * time.Millisecond)
			select {
			case <-p.exited:
				t.Fatalf("bank %s exited while serving: %v\n%s", p.mode, p.err, p.output())
			default:
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bank %s does not serve %s: %v\n%s", p.mode, base, err, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and wants the process to exit with status 0.
func (p *bankProcess) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Errorf("bank %s had already exited: %v\n%s", p.mode, p.err, p.output())
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("bank %s did not stop within 20s of SIGTERM\n%s", p.mode, p.output())
	}
	if p.err != nil {
		t.Errorf("bank %s exited with %v\n%s", p.mode, p.err, p.output())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
