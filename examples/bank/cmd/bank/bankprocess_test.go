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
)

// buildBank builds this command into a temporary directory.
func buildBank(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bank")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// bankProcess is the bank's binary running as an OS process.
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

// kill ends the process with SIGKILL: no deferred function, no clean-up.
func (p *bankProcess) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}
