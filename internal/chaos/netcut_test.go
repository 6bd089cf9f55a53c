package chaos_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/projection"
)

// proxy forwards TCP connections from 127.0.0.1 to target until cut: then
// it closes every open connection and refuses new ones (accepts and closes
// them at once) until restored.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		up.Close()
		p.drop(c)
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }() //nolint:errcheck
	go func() { io.Copy(c, up); done <- struct{}{} }() //nolint:errcheck
	<-done
	p.drop(c)
	p.drop(up)
	<-done
}

func (p *proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// setCut cuts (true) or restores (false) the connection.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

// TestRedisNetworkCut runs a runner whose Redis connection goes through a
// proxy, then cuts it for six seconds while events keep coming. The runner
// retries with backoff, shows the failure in Status().LastError and, once it
// has lasted, StateUnavailable (never a fault); after the cut it recovers on
// its own, clears both, and the read model equals the fold.
func TestRedisNetworkCut(t *testing.T) {
	requireChaos(t)
	e := setup(t)
	px := startProxy(t, "127.0.0.1:6379")
	rc := redis.NewClient(&redis.Options{Addr: px.addr(), DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { rc.Close() })
	rm, err := redisstore.New(rc, &redisstore.Options{Prefix: e.prefix}) // the checker reads the same keys directly
	if err != nil {
		t.Fatal(err)
	}
	rn := startRunner(t, projection.LogSource(e.store, nil), rm, 50)
	var status statusLog
	ctx, stopWatch := context.WithCancel(t.Context())
	defer stopWatch()
	go status.watch(ctx, rn, 5*time.Millisecond)

	w := startWriters(e.store, 2, 1000, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	before := rn.Status()
	if !before.Active || before.LastError != "" {
		t.Fatalf("before the cut: %+v", before)
	}
	px.setCut(true)
	cut := time.Now()
	var during statusLog
	// Long enough for the client's own retries to give up a few times:
	// each failing call takes up to about two seconds here.
	for time.Since(cut) < 6*time.Second {
		during.note(rn.Status())
		time.Sleep(5 * time.Millisecond)
	}
	stalled := rn.Status()
	px.setCut(false)
	restored := time.Now()
	t.Logf("during the cut: %s; position %s (was %s)", &during, stalled.Position, before.Position)
	if len(during.errs) == 0 {
		t.Error("Status().LastError stayed empty while Redis was unreachable")
	}
	unavailable := false
	for _, s := range during.states {
		unavailable = unavailable || s == projection.StateUnavailable
		if s == projection.StateFaulted {
			t.Errorf("the runner reported %q for an unreachable store (states %q)", s, during.states)
		}
	}
	if !unavailable {
		t.Errorf("the runner retried for %v without reporting %q (states %q)",
			restored.Sub(cut).Round(time.Millisecond), projection.StateUnavailable, during.states)
	}

	last := w.finish()
	e.check(t, last) // through the direct client
	if err := waitUntil(10*time.Second, func() bool { s := rn.Status(); return s.LastError == "" && s.Position == last }); err != nil {
		t.Errorf("after the cut: %+v: %v", rn.Status(), err)
	}
	t.Logf("recovered %v after the connection was restored; runner: %s", time.Since(restored).Round(time.Millisecond), &status)
}
