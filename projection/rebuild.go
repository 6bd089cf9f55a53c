package projection

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventfold/eventfold/readmodel"
)

// A rebuild of the version being served writes a new generation of it,
// "<version>~<n>", into a namespace of its own, and switches readers over
// the way a new version does. Runners of the version follow the switch: a
// Runner retired by a newer generation of its own version carries on as
// that generation (followRebuild), so workers keep the rebuilt read model up
// to date without a restart.
const generationSep = "~"

// splitGeneration splits "3~2" into "3" and 2; a version without a
// generation is generation 0.
func splitGeneration(version string) (base string, gen int) {
	i := strings.LastIndex(version, generationSep)
	if i <= 0 {
		return version, 0
	}
	n, err := strconv.Atoi(version[i+1:])
	if err != nil || n < 1 {
		return version, 0
	}
	return version[:i], n
}

// withVersion returns a copy of p at version, sharing its handlers.
func (p *Projection) withVersion(version string) *Projection {
	c := *p
	c.version = version
	return &c
}

// followRebuild makes a Runner that a rebuild of its own version retired
// carry on as the rebuilt generation, from that generation's checkpoint. It
// reports whether it did.
func (r *Runner) followRebuild(ctx context.Context) bool {
	p, ok, err := readPointer(ctx, r.cfg.Store, r.cfg.Projection.name, r.cfg.Tenant)
	if err != nil || !ok {
		return false
	}
	mine, _ := splitGeneration(r.cfg.Projection.version)
	if base, _ := splitGeneration(p.Version); base != mine || !newerVersion(p.Version, r.cfg.Projection.version) {
		return false
	}
	// The rebuild dropped this generation when it switched readers over;
	// drop it again in case this Runner wrote to it meanwhile.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	if err := r.cfg.Store.Drop(dctx, r.ns); err != nil {
		r.log.Warn("could not drop the generation a rebuild replaced", "err", err)
	}
	cancel()
	r.cfg.Projection = r.cfg.Projection.withVersion(p.Version)
	r.ns = r.ownNamespace()
	r.tx.ns = r.ns
	r.tx.reset()
	r.mu.Lock()
	r.status.Version = p.Version
	r.status.Active = false
	r.mu.Unlock()
	r.log.Info("a rebuild replaced the read model; following it", "generation", p.Version)
	return true
}

// Rebuild builds the read model of the version being served afresh, from
// the start of the log, beside the one readers use, and switches readers
// over once it has caught up, the way a new version takes over: readers
// never see a half-built read model. Use it after fixing a handler without
// changing what the read model means, or to drop data a bug wrote. Runners
// of the version elsewhere (workers) follow the switch by themselves.
type Rebuild struct {
	cfg     Config
	from    string
	gen     *Projection
	runners []*Runner
}

// NewRebuild prepares a rebuild of cfg's projection, whose version must be
// the one being served (Partition is ignored: the rebuild runs every
// partition in this process). It drops whatever an earlier, interrupted
// rebuild left behind. It fails with ErrNotReady when no version is
// active.
func NewRebuild(ctx context.Context, cfg Config) (*Rebuild, error) {
	cfg.Partition = 0
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 1
	}
	name := cfg.Projection.name
	p, ok, err := readPointer(ctx, cfg.Store, name, cfg.Tenant)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %q has no active version to rebuild; its worker builds the first one", ErrNotReady, name)
	}
	base, gen := splitGeneration(p.Version)
	if base != cfg.Projection.version {
		return nil, fmt.Errorf("projection: the active version of %q is %q, not %q: rebuild with the release that serves it, or deploy this one, whose worker builds version %q beside the old one",
			name, base, cfg.Projection.version, cfg.Projection.version)
	}
	b := &Rebuild{cfg: cfg, from: p.Version, gen: cfg.Projection.withVersion(base + generationSep + strconv.Itoa(gen+1))}
	if err := b.genLayout().dropAll(ctx, cfg.Store); err != nil {
		return nil, err
	}
	for k := 0; k < cfg.Partitions; k++ {
		rc := cfg
		rc.Projection, rc.Partition = b.gen, k
		r, err := NewRunner(rc)
		if err != nil {
			return nil, err
		}
		b.runners = append(b.runners, r)
	}
	return b, nil
}

// From returns the version (and generation) being replaced.
func (b *Rebuild) From() string { return b.from }

// Version returns the generation being built, for example "3~1".
func (b *Rebuild) Version() string { return b.gen.version }

// Status returns the status of every partition of the new generation.
func (b *Rebuild) Status() []Status {
	out := make([]Status, len(b.runners))
	for i, r := range b.runners {
		out[i] = r.Status()
	}
	return out
}

// Run builds the new generation until readers have been switched over to
// it, then stops and returns nil. If ctx ends first, or something else
// takes over the projection, it gives the rebuild up: the version being
// served goes on as before and the half-built generation is dropped.
func (b *Rebuild) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(b.runners))
	for _, r := range b.runners {
		go func() { errs <- r.Run(runCtx) }()
	}
	stop := func() {
		cancel()
		for range b.runners {
			<-errs
		}
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stop()
			return errors.Join(ctx.Err(), b.abandon(ctx))
		case err := <-errs:
			errs <- err // stop waits for every runner
			stop()
			return errors.Join(fmt.Errorf("projection: rebuild of %q stopped: %w", b.cfg.Projection.name, err), b.abandon(ctx))
		case <-t.C:
			if b.runners[0].Status().Active {
				stop()
				return nil
			}
		}
	}
}

// abandon undoes an unfinished rebuild: it lets the served version write
// again if the rebuild had frozen it, and drops the new generation.
func (b *Rebuild) abandon(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	p, ok, err := readPointer(ctx, b.cfg.Store, b.cfg.Projection.name, b.cfg.Tenant)
	if err != nil {
		return err
	}
	if ok && p.Version == b.gen.version {
		return nil // it switched over after all
	}
	if ok {
		frozen := retiredEpoch
		for _, served := range pointerLayout(b.cfg.Projection.name, b.cfg.Tenant, p).namespaces() {
			// A fresh epoch: the served version's Runners adopt it and
			// resume from their checkpoints.
			_, err := b.cfg.Store.Apply(ctx, served, readmodel.Batch{Checkpoint: newEpoch(), IfCheckpoint: &frozen})
			if err != nil && !errors.Is(err, readmodel.ErrCheckpointMismatch) {
				return err
			}
		}
	}
	return b.genLayout().dropAll(ctx, b.cfg.Store)
}

// genLayout returns the layout of the generation being built.
func (b *Rebuild) genLayout() layout {
	return layout{ns: b.gen.Namespace(b.cfg.Tenant), partitions: b.cfg.Partitions, spread: b.cfg.Spread}
}
