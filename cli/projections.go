package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/projectionops"
	"github.com/eventfold/eventfold/readmodel"
)

// partitionStatus is one line of projections status.
type partitionStatus struct {
	Projection string    `json:"projection"`
	Tenant     string    `json:"tenant"`
	Version    string    `json:"version"`
	Active     bool      `json:"active"`
	Partition  int       `json:"partition"`
	Partitions int       `json:"partitions"`
	Position   string    `json:"position"`
	Head       string    `json:"head"`
	LagEvents  uint64    `json:"lag_events"`
	SwitchedAt time.Time `json:"switched_at,omitzero"`
	Ready      bool      `json:"ready"`
	// Fault is the event the partition is stopped on, if it is.
	Fault *projectionops.FaultReport `json:"fault,omitempty"`
}

func projectionsCommand(cfg *config) *cobra.Command {
	cmd := &cobra.Command{Use: "projections", Short: "Inspect projections' read models"}
	var tenant, version string
	var partitions int
	var asJSON bool
	status := &cobra.Command{
		Use:   "status [NAME...]",
		Short: "Show each projection's active version, checkpoints and lag behind the log",
		Long: `Show each projection's active version, per-partition checkpoints and lag
behind the head of the event store, read from the read-model store (Redis)
and the event store (PostgreSQL). Without names it shows every projection
whose runner recorded itself in the catalog (for every tenant, or only
--tenant's when given). --version inspects a version other than the active
one, for example one being rebuilt.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, names []string) error {
			ctx := cmd.Context()
			rm, closeRM, err := cfg.readModels(ctx)
			if err != nil {
				return err
			}
			defer closeRM()
			store, closeStore, err := cfg.store(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			if tenant != "" {
				if err := eventstore.ValidateTenant(tenant); err != nil {
					return fmt.Errorf("--tenant: %w", err)
				}
			}
			// Each tenant's projection is measured against its own
			// tenant's head, and one that reads every tenant's log
			// (CatalogEntry.AllTenants) against the head of that log.
			const allKey = "\x00all"
			heads := map[string]eventstore.Position{}
			headOf := func(tenant string, all bool) (eventstore.Position, error) {
				key := tenant
				if all {
					key = allKey
				}
				if h, ok := heads[key]; ok {
					return h, nil
				}
				var view eventstore.HeadReader = store
				switch {
				case all:
					view = store.AllTenants()
				case tenant != "":
					if view, err = store.ForTenant(tenant); err != nil {
						return eventstore.Position{}, fmt.Errorf("--tenant: %w", err)
					}
				}
				h, err := view.Head(ctx)
				heads[key] = h
				return h, err
			}
			entries, err := projectionops.ListProjections(ctx, rm)
			if err != nil {
				return err
			}
			type target struct {
				name, tenant string
				all          bool
			}
			readsAll := map[[2]string]bool{}
			for _, e := range entries {
				readsAll[[2]string{e.Name, e.Tenant}] = e.AllTenants
			}
			var targets []target
			for _, name := range names {
				targets = append(targets, target{name, tenant, readsAll[[2]string{name, tenant}]})
			}
			if len(names) == 0 {
				for _, e := range entries {
					if !cmd.Flags().Changed("tenant") || e.Tenant == tenant {
						targets = append(targets, target{e.Name, e.Tenant, e.AllTenants})
					}
				}
			}
			lines := []partitionStatus{}
			for _, t := range targets {
				head, err := headOf(t.tenant, t.all)
				if err != nil {
					return err
				}
				ls, err := projectionStatus(cmd, rm, t.name, t.tenant, version, partitions, head)
				if err != nil {
					return err
				}
				lines = append(lines, ls...)
			}
			seen := map[[2]string]bool{}
			for _, t := range targets {
				if seen[[2]string{t.name, t.tenant}] {
					continue
				}
				seen[[2]string{t.name, t.tenant}] = true
				faults, err := projectionops.Faults(ctx, rm, t.name, t.tenant)
				if err != nil {
					return err
				}
				for i := range faults {
					lines = attachFault(lines, faults[i])
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), lines)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROJECTION\tTENANT\tVERSION\tACTIVE\tPARTITION\tPOSITION\tHEAD\tLAG")
			for _, l := range lines {
				pos, lag := l.Position, strconv.FormatUint(l.LagEvents, 10)
				if !l.Ready {
					pos, lag = "(not built)", "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d/%d\t%s\t%s\t%s\n", l.Projection, l.Tenant, l.Version, l.Active,
					l.Partition, l.Partitions, pos, l.Head, lag)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			// A transaction left open anywhere in the cluster stalls every
			// projection, which shows as lag with no cause: name it.
			hb, err := store.AllTenants().HeldBack(ctx)
			if err != nil {
				return err
			}
			if hb.Events > 0 && len(hb.Holders) > 0 {
				fmt.Fprint(cmd.OutOrStdout(), heldBackLine(hb, time.Now(), cmd.Root().Name()))
			}
			for _, l := range lines {
				if f := l.Fault; f != nil {
					tenantFlag := ""
					if f.Tenant != "" {
						tenantFlag = " --tenant " + strconv.Quote(f.Tenant)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "\nFAULTED %s version %s partition %d since %s after %d attempts:\n  event %s (%s, stream %s #%d) at position %s\n  error: %s\n  resolve: %s projections retry|skip %s%s --version %s --partition %d\n",
						f.Projection, f.Version, f.Partition, f.Since.Format(time.RFC3339), f.Attempts, f.EventID, f.Type, f.StreamID, f.StreamVersion,
						f.Position, f.Err, cmd.Root().Name(), f.Projection, tenantFlag, f.Version, f.Partition)
				}
			}
			return nil
		},
	}
	status.Flags().StringVar(&tenant, "tenant", "", "show only this tenant's projections (empty: every tenant; with names, the default tenant)")
	status.Flags().StringVar(&version, "version", "", "version to inspect (default: the active one)")
	status.Flags().IntVar(&partitions, "partitions", 0, "number of partitions (default: as the active version records)")
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.AddCommand(status, controlCommand(cfg, projectionops.ActionRetry), controlCommand(cfg, projectionops.ActionSkip), rebuildCommand(cfg))
	return cmd
}

func projectionStatus(cmd *cobra.Command, rm readmodel.Reader, name, tenant, version string, partitions int, head eventstore.Position) ([]partitionStatus, error) {
	in, err := projectionops.Inspect(cmd.Context(), rm, name, tenant, &projectionops.InspectOptions{Version: version, Partitions: partitions})
	if err != nil {
		return nil, err
	}
	if in.Version == "" {
		return []partitionStatus{{Projection: name, Tenant: tenant, Version: "-", Partitions: max(partitions, 1), Head: head.String()}}, nil
	}
	lines := make([]partitionStatus, len(in.Partitions))
	for i, cp := range in.Partitions {
		l := partitionStatus{Projection: name, Tenant: tenant, Version: in.Version, Active: in.Active == in.Version,
			Partition: i, Partitions: len(in.Partitions), Position: cp.Position.String(), Head: head.String(), Ready: cp.Committed}
		if l.Active {
			l.SwitchedAt = in.SwitchedAt
		}
		if cp.Committed && cp.Position.Sequence < head.Sequence {
			l.LagEvents = head.Sequence - cp.Position.Sequence
		}
		lines[i] = l
	}
	return lines, nil
}

// attachFault puts f on its partition's line, adding a line when f is about
// a version the table does not show (one being rebuilt).
func attachFault(lines []partitionStatus, f projectionops.FaultReport) []partitionStatus {
	for i := range lines {
		if lines[i].Projection == f.Projection && lines[i].Tenant == f.Tenant && lines[i].Version == f.Version && lines[i].Partition == f.Partition {
			lines[i].Fault = &f
			return lines
		}
	}
	return append(lines, partitionStatus{Projection: f.Projection, Tenant: f.Tenant, Version: f.Version, Partition: f.Partition,
		Partitions: f.Partition + 1, Position: "(faulted)", Head: "-", Fault: &f})
}

// heldBackLine is the HELD BACK paragraph of projections status.
func heldBackLine(hb pgstore.HeldBack, now time.Time, command string) string {
	h := hb.Holders[0]
	oldest := fmt.Sprintf("pid %d, %s, open for %s", h.PID, h.State, now.Sub(h.Started).Round(time.Second))
	if h.Hidden {
		oldest = fmt.Sprintf("pid %d of user %s, its state and start hidden from this role", h.PID, h.User)
	}
	return fmt.Sprintf("\nHELD BACK: %s not visible to any projection yet, held back for %s behind %s\n  (oldest: %s); details: %s horizon\n",
		plural(hb.Events, "committed event is", "committed events are"), now.Sub(hb.HeldSince()).Round(time.Second),
		plural(int64(len(hb.Holders)), "open transaction", "open transactions"), oldest, command)
}
