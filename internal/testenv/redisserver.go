package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"time"
)

// RedisServer is a redis-server of its own on a free loopback port, with
// no persistence, for measurements that must not share a server's memory
// or CPU figures with other users (INFO memory, the process's CPU time).
type RedisServer struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// StartRedisServer starts redis-server (from PATH) on a free port of
// 127.0.0.1 with no snapshots and no append-only file, and waits until it
// accepts connections. Close stops it; it also dies with this process.
func StartRedisServer(ctx context.Context) (*RedisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("testenv: redis-server: %w", err)
	}
	ports, err := freePortList(1)
	if err != nil {
		return nil, fmt.Errorf("testenv: free port: %w", err)
	}
	port := strconv.Itoa(ports[0])
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--loglevel", "warning")
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start redis-server: %w", err)
	}
	s := &RedisServer{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", port), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, errors.New("testenv: redis-server exited at start")
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return s.addr }

// PID is the server's process ID.
func (s *RedisServer) PID() int { return s.cmd.Process.Pid }

// Close stops the server and waits for it to exit.
func (s *RedisServer) Close() {
	_ = s.cmd.Process.Kill()
	<-s.done
}
