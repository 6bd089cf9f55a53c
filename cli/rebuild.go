package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/projection"
)

func rebuildCommand(cfg *config) *cobra.Command {
	var tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rebuild NAME",
		Short: "Rebuild a projection's read model from the start of the log, with no downtime",
		Long: `Rebuild a projection's read model from the start of the log, in this process,
beside the one readers use, and switch readers over once it has caught up:
queries never see a half-built read model. Use it after fixing a handler
without changing what the read model means (to change that, bump the version
passed to projection.New and deploy instead).

The version being served must be the one compiled into this binary. The new
read model is a generation of it ("3~1", then "3~2"); workers running the
projection follow the switch by themselves. Interrupting the command gives the
rebuild up and leaves the served read model as it was. Progress shows on a
terminal as a bar with the rate and the time left, otherwise as a line every
5 seconds, or with --json as one JSON object a second.

With --tenant, it rebuilds that tenant's read model: from the configuration
the application gives for that tenant if it has one, otherwise from the
projection's configuration with the tenant's own log as its source.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// Warn by default: the runners' info logs would break the bar.
			deps, configs, closeDeps, err := cfg.openProjections(cmd, slog.LevelWarn, args)
			if err != nil {
				return err
			}
			defer closeDeps()
			pc, events, err := tenantConfig(configs, deps, tenant, cmd.Flags().Changed("tenant"))
			if err != nil {
				return err
			}
			rb, err := projection.NewRebuild(ctx, pc)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !asJSON {
				fmt.Fprintf(out, "rebuilding %s as version %s from the start of the log; version %s serves readers until it has caught up\n",
					args[0], rb.Version(), rb.From())
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- rb.Run(ctx) }()
			meter := newProgressMeter(out, asJSON)
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			var head uint64
			var lastHead time.Time
			for {
				if time.Since(lastHead) >= time.Second {
					if h, err := events.Head(ctx); err == nil {
						head, lastHead = h.Sequence, time.Now()
					}
				}
				select {
				case err := <-done:
					if err != nil {
						meter.finish()
						if errors.Is(err, context.Canceled) {
							return fmt.Errorf("rebuild interrupted: version %s still serves readers; the partial rebuild was dropped", rb.From())
						}
						return err
					}
					took := time.Since(start)
					pos := minPosition(rb.Status())
					meter.complete(pos, head)
					if asJSON {
						return json.NewEncoder(out).Encode(map[string]any{"projection": args[0], "from": rb.From(), "version": rb.Version(),
							"active": true, "position": pos, "seconds": took.Seconds()})
					}
					fmt.Fprintf(out, "rebuilt %s: version %s is active, replacing %s (to position %d in %s, %.0f events/s)\n",
						args[0], rb.Version(), rb.From(), pos, took.Round(time.Millisecond), float64(pos)/max(took.Seconds(), 1e-3))
					return nil
				case <-tick.C:
				}
				meter.update(minPosition(rb.Status()), head)
			}
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant whose read model to rebuild, from the tenant's own log (empty for the default tenant)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print progress and the summary as JSON objects, one a line")
	return cmd
}

// minPosition is how far the slowest partition has got, as a sequence.
func minPosition(ss []projection.Status) uint64 {
	var lo uint64
	for i, s := range ss {
		if i == 0 || s.Position.Sequence < lo {
			lo = s.Position.Sequence
		}
	}
	return lo
}

// tenantConfig picks the configuration to rebuild among those of one
// projection, and the event-store view whose head measures progress. The
// application may configure a projection once per tenant: the one of
// tenant is taken as it is. Otherwise, with --tenant, the projection's
// configuration is confined to tenant and reads the tenant's own log (over
// the default tenant's log a tenant's Runner would skip every event and
// build an empty read model). Without --tenant, a projection configured
// for one tenant only is rebuilt for it.
func tenantConfig(configs []projection.Config, deps Deps, tenant string, named bool) (projection.Config, *pgstore.Store, error) {
	view := func(pc projection.Config) (projection.Config, *pgstore.Store, error) {
		if pc.Tenant == "" {
			return pc, deps.Events, nil
		}
		events, err := deps.Events.ForTenant(pc.Tenant)
		if err != nil {
			return projection.Config{}, nil, fmt.Errorf("tenant %q: %w", pc.Tenant, err)
		}
		return pc, events, nil
	}
	var tenants []string
	for _, pc := range configs {
		if pc.Tenant == tenant {
			return view(pc)
		}
		tenants = append(tenants, strconv.Quote(pc.Tenant))
	}
	pc := configs[0]
	switch {
	case named:
		pc.Tenant = tenant
		pc, events, err := view(pc)
		if err != nil {
			return pc, nil, err
		}
		pc.Source = projection.LogSource(events, nil)
		return pc, events, nil
	case len(configs) > 1:
		return projection.Config{}, nil, fmt.Errorf("rebuild: %w: %s runs for tenants %s; name one with --tenant",
			errUsage, pc.Projection.Name(), strings.Join(tenants, ", "))
	}
	return view(pc)
}
