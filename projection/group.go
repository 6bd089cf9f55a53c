package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Leaser grants exclusive, named leases across processes. A lease ends when
// it is released, when its holder's connection dies, or when the ctx given
// to TryLock ends. pgstore.Locker implements it with PostgreSQL advisory
// locks.
type Leaser interface {
	// TryLock takes the lease called name if it is free and reports
	// whether it did. The returned context ends when the lease does;
	// release gives it up.
	TryLock(ctx context.Context, name string) (held context.Context, release func(), ok bool, err error)
}

// GroupConfig configures a Group: the Runner configuration shared by all
// partitions (Partition is ignored), the number of partitions, and the
// leaser that keeps each partition in one process.
type GroupConfig struct {
	Config
	// Leaser hands out the partition and membership leases. Required.
	Leaser Leaser
	// Rebalance is how often the Group looks at the other members and
	// takes or gives up partitions. Default 1s.
	Rebalance time.Duration
	// MaxMembers bounds how many processes can share the projection.
	// Default Partitions.
	MaxMembers int
}

// Group runs a share of a partitioned projection's partitions in this
// process. Several processes each run a Group for the same projection: each
// counts the live members and keeps ceil(partitions / members) partitions,
// taking free ones and handing back extras, so adding or removing a process
// rebalances the work. A partition is run by at most one process at a time
// (its lease), and a process gives one up only after its Runner has stopped,
// so a stream's events are still applied in order, from the checkpoint the
// previous owner committed.
type Group struct {
	cfg GroupConfig
	log *slog.Logger

	mu      sync.Mutex
	owned   map[int]*groupMember
	member  int
	retired bool // a partition's Runner retired: a newer version is active
}

type groupMember struct {
	runner *Runner
	stop   context.CancelFunc
	done   chan struct{}
}

// NewGroup validates cfg and returns a Group.
func NewGroup(cfg GroupConfig) (*Group, error) {
	var errs []error
	if cfg.Partitions < 1 {
		errs = append(errs, errors.New("projection: GroupConfig.Partitions must be at least 1"))
	}
	if cfg.Leaser == nil {
		errs = append(errs, errors.New("projection: GroupConfig.Leaser is required"))
	}
	probe := cfg.Config
	probe.Partition = 0
	if err := probe.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Rebalance <= 0 {
		cfg.Rebalance = time.Second
	}
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = cfg.Partitions
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Group{cfg: cfg, owned: map[int]*groupMember{}, member: -1,
		log: log.With("projection", cfg.Projection.name, "version", cfg.Projection.version)}, nil
}

// Owned returns the partitions this process runs now, in order.
func (g *Group) Owned() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []int
	for k := range g.owned {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Status returns the status of every partition this process runs.
func (g *Group) Status() []Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Status
	for _, m := range g.owned {
		out = append(out, m.runner.Status())
	}
	slices.SortFunc(out, func(a, b Status) int { return a.Partition - b.Partition })
	return out
}

func (g *Group) lease(kind string, i int) string {
	return "projection/" + g.cfg.Projection.name + "/" + g.cfg.Projection.version + "/" + g.cfg.Tenant + "/" + kind + "/" + strconv.Itoa(i)
}

// Run takes part in the group until ctx ends, then stops this process's
// Runners and gives their partitions up. When a newer version of the
// projection becomes active, the partitions' Runners retire and Run returns
// ErrRetired once they have all stopped: the Group is done, not failed.
func (g *Group) Run(ctx context.Context) error {
	memberCtx, releaseMember, err := g.join(ctx)
	if err != nil {
		return err
	}
	defer func() {
		g.shrinkTo(0)
		releaseMember()
	}()
	t := time.NewTicker(g.cfg.Rebalance)
	defer t.Stop()
	for {
		if g.hasRetired() {
			return ErrRetired
		}
		if err := g.rebalance(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("rebalance failed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-memberCtx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errors.New("projection: lost the group membership lease")
		case <-t.C:
		}
	}
}

// join takes the lowest free membership slot.
func (g *Group) join(ctx context.Context) (context.Context, func(), error) {
	for {
		for i := 0; i < g.cfg.MaxMembers; i++ {
			held, release, ok, err := g.cfg.Leaser.TryLock(ctx, g.lease("member", i))
			if err != nil {
				return nil, nil, err
			}
			if ok {
				g.mu.Lock()
				g.member = i
				g.mu.Unlock()
				return held, release, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(g.cfg.Rebalance):
		}
	}
}

// members counts the live members: the slots whose lease someone holds.
func (g *Group) members(ctx context.Context) (int, error) {
	n := 1 // this process
	for i := 0; i < g.cfg.MaxMembers; i++ {
		if i == g.member {
			continue
		}
		_, release, ok, err := g.cfg.Leaser.TryLock(ctx, g.lease("member", i))
		if err != nil {
			return 0, err
		}
		if ok {
			release()
		} else {
			n++
		}
	}
	return n, nil
}

func (g *Group) rebalance(ctx context.Context) error {
	g.reap()
	if g.hasRetired() {
		return nil // Run stops the rest
	}
	m, err := g.members(ctx)
	if err != nil {
		return err
	}
	fair := (g.cfg.Partitions + m - 1) / m
	g.shrinkTo(fair)
	for k := 0; k < g.cfg.Partitions && len(g.Owned()) < fair; k++ {
		g.mu.Lock()
		_, mine := g.owned[k]
		g.mu.Unlock()
		if mine {
			continue
		}
		held, release, ok, err := g.cfg.Leaser.TryLock(ctx, g.lease("partition", k))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := g.start(held, release, k); err != nil {
			release()
			return err
		}
	}
	return nil
}

// start runs partition k while its lease lasts.
func (g *Group) start(held context.Context, release func(), k int) error {
	cfg := g.cfg.Config
	cfg.Partition = k
	r, err := NewRunner(cfg)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(held)
	m := &groupMember{runner: r, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		defer release() // only after the Runner has stopped
		err := r.Run(runCtx)
		switch {
		case errors.Is(err, ErrRetired):
			// The Runner logged it; stop taking partitions of this version.
			g.mu.Lock()
			g.retired = true
			g.mu.Unlock()
		case err != nil && !errors.Is(err, context.Canceled):
			g.log.Warn("partition runner ended", "partition", k, "err", err)
		}
	}()
	g.mu.Lock()
	g.owned[k] = m
	g.mu.Unlock()
	g.log.Info("took partition", "partition", k)
	return nil
}

// hasRetired reports whether a partition's Runner retired.
func (g *Group) hasRetired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.retired
}

// reap forgets partitions whose Runner ended (lease lost, retired).
func (g *Group) reap() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, m := range g.owned {
		select {
		case <-m.done:
			delete(g.owned, k)
		default:
		}
	}
}

// shrinkTo stops the highest partitions beyond n and waits for them.
func (g *Group) shrinkTo(n int) {
	owned := g.Owned()
	for len(owned) > n {
		k := owned[len(owned)-1]
		owned = owned[:len(owned)-1]
		g.mu.Lock()
		m := g.owned[k]
		delete(g.owned, k)
		g.mu.Unlock()
		m.stop()
		<-m.done
		g.log.Info("gave partition up", "partition", k)
	}
}

// String describes the group for logs and tests.
func (g *Group) String() string {
	return fmt.Sprintf("group %s@%s member %d owning %v", g.cfg.Projection.name, g.cfg.Projection.version, g.member, g.Owned())
}
