package harness

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// counters are cumulative resource counts read at the edges of a measured
// window. A count that could not be read is negative.
type counters struct {
	clientCPU time.Duration // this process, user and system
	serverCPU time.Duration // every local process named "postgres"
	wal       int64         // PostgreSQL's WAL insert position, in bytes
}

// Cost is what a window used, per unit of work. Figures that could not be
// measured are zero.
type Cost struct {
	// ClientCPU is this process's CPU time (user and system) per unit.
	ClientCPU time.Duration
	// ServerCPU is the CPU time of the local PostgreSQL processes per
	// unit. It is only known when PostgreSQL runs on this machine and
	// includes whatever else the server did meanwhile.
	ServerCPU time.Duration
	// WALBytes is the WAL the cluster wrote per unit, whoever wrote it.
	WALBytes float64
}

// probe reads the counters. It is set by Run from its Env and travels to
// Drive inside the Budget.
type probe func(ctx context.Context) counters

func (e *Env) probe(ctx context.Context) counters {
	c := counters{clientCPU: selfCPU(), serverCPU: processCPU("postgres"), wal: -1}
	e.mu.Lock()
	pool := e.pool
	e.mu.Unlock()
	if pool != nil {
		var lsn int64
		if err := pool.QueryRow(ctx, "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint").Scan(&lsn); err == nil {
			c.wal = lsn
		}
	}
	return c
}

func costOf(before, after counters, units int64) Cost {
	if units <= 0 {
		return Cost{}
	}
	var c Cost
	if before.clientCPU >= 0 && after.clientCPU >= 0 {
		c.ClientCPU = (after.clientCPU - before.clientCPU) / time.Duration(units)
	}
	if before.serverCPU >= 0 && after.serverCPU >= 0 {
		c.ServerCPU = (after.serverCPU - before.serverCPU) / time.Duration(units)
	}
	if before.wal >= 0 && after.wal >= 0 {
		c.WALBytes = float64(after.wal-before.wal) / float64(units)
	}
	return c
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU sums the CPU time of the live processes with the given command
// name, from /proc. It returns -1 where /proc cannot be read.
func processCPU(comm string) time.Duration {
	dirs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(dirs) == 0 {
		return -1
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	var total time.Duration
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != comm {
			continue
		}
		// After the name: state is field 3, utime field 14, stime field 15.
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 == nil && err2 == nil {
			total += time.Duration(ut+st) * tick
		}
	}
	return total
}
