package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// controlCommand is projections retry or projections skip: it reaches the
// faulted Runner through the read-model store, wherever it runs.
func controlCommand(cfg *config, action projectionops.Action) *cobra.Command {
	var tenant, version, position string
	var partition int
	var timeout time.Duration
	short := map[projectionops.Action]string{
		projectionops.ActionRetry: "Run a faulted projection's failing handler again, after a fix",
		projectionops.ActionSkip:  "Pass over the event a faulted projection is stopped on",
	}[action]
	cmd := &cobra.Command{
		Use:   string(action) + " NAME",
		Short: short,
		Long: short + `.

The projection runs in another process (a worker, or your application). This
command finds the fault it published in the read-model store, shows the event,
and leaves a request there that the faulted runner picks up; it then waits for
the runner's answer. The request names the event's position (the one shown,
or --position), so a request that is late, after the fault was resolved and
another event faulted, is refused rather than skipping the wrong event.
A retried event that fails again faults the projection again after its
attempts. "projections status NAME" shows faults.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctx := cmd.Context()
			rm, closeRM, err := cfg.readModels(ctx)
			if err != nil {
				return err
			}
			defer closeRM()
			faults, err := projectionops.Faults(ctx, rm, name, tenant)
			if err != nil {
				return err
			}
			var match []projectionops.FaultReport
			for _, f := range faults {
				if (version == "" || f.Version == version) && (partition < 0 || f.Partition == partition) {
					match = append(match, f)
				}
			}
			switch {
			case len(match) == 0:
				return fmt.Errorf("projection %q is not faulted%s: nothing to %s", name, where(tenant, version, partition), action)
			case len(match) > 1:
				var which []string
				for _, f := range match {
					which = append(which, fmt.Sprintf("--version %s --partition %d", f.Version, f.Partition))
				}
				return fmt.Errorf("%s: %w: %d partitions of %q are faulted; name one: %s", action, errUsage, len(match), name, strings.Join(which, " | "))
			}
			f := match[0]
			pos := f.Position
			if position != "" {
				if pos, err = eventstore.ParsePosition(position); err != nil {
					return fmt.Errorf("--position: %w", err)
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s version %s partition %d is faulted since %s after %d attempts on\n  event %s (%s, stream %s #%d) at position %s\n  error: %s\n",
				f.Projection, f.Version, f.Partition, f.Since.Format(time.RFC3339), f.Attempts, f.EventID, f.Type, f.StreamID, f.StreamVersion, f.Position, f.Err)
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if _, err := projectionops.Control(wctx, rm, name, tenant, projectionops.ControlRequest{Version: f.Version, Partition: f.Partition, Action: action, Position: pos}); err != nil {
				return err
			}
			if action == projectionops.ActionSkip {
				fmt.Fprintf(out, "skipped event %s at position %s; the runner logged it and goes on\n", f.EventID, pos)
			} else {
				fmt.Fprintf(out, "retrying event %s at position %s; if it fails again the projection faults again (see projections status %s)\n", f.EventID, pos, name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant whose faulted projection to resolve (empty for the default tenant)")
	cmd.Flags().StringVar(&version, "version", "", "version of the faulted read model (needed when several are faulted)")
	cmd.Flags().IntVar(&partition, "partition", -1, "faulted partition (needed when several are faulted)")
	cmd.Flags().StringVar(&position, "position", "", "position of the event you mean, as status shows it (default: the one shown now)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the runner's answer")
	return cmd
}

func where(tenant, version string, partition int) string {
	var parts []string
	if tenant != "" {
		parts = append(parts, "tenant "+tenant)
	}
	if version != "" {
		parts = append(parts, "version "+version)
	}
	if partition >= 0 {
		parts = append(parts, fmt.Sprintf("partition %d", partition))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
