package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
)

// processStatus is one line of processes status.
type processStatus struct {
	Process   string    `json:"process"`
	Position  string    `json:"position"`
	Head      string    `json:"head"`
	LagEvents uint64    `json:"lag_events"`
	UpdatedAt time.Time `json:"updated_at"`
}

func processesCommand(cfg *config) *cobra.Command {
	cmd := &cobra.Command{Use: "processes", Short: "Inspect process managers (command.Process)"}
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each process manager's position in the log and how far it is behind",
		Long: `Show the position of every process manager (command.Process) that has
saved one in this schema, the head of the log, and the lag between them. A
process manager keeps its position in PostgreSQL, next to the events, so this
reads PostgreSQL only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := cfg.postgres(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			opts := &pgstore.Options{Schema: cfg.schema}
			store, err := pgstore.New(pool, opts)
			if err != nil {
				return err
			}
			head, err := store.AllTenants().Head(ctx)
			if err != nil {
				return err
			}
			cps, err := pgstore.NewCheckpoints(pool, opts).List(ctx, "process/")
			if err != nil {
				return err
			}
			lines := make([]processStatus, 0, len(cps))
			for _, cp := range cps {
				lines = append(lines, processLine(cp, head))
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), lines)
			}
			if len(lines) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no process manager has saved a position in schema", cfg.schema)
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROCESS\tPOSITION\tHEAD\tLAG\tUPDATED")
			for _, l := range lines {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", l.Process, l.Position, l.Head, l.LagEvents, l.UpdatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.AddCommand(status)
	return cmd
}

func processLine(cp pgstore.NamedCheckpoint, head eventstore.Position) processStatus {
	l := processStatus{Process: strings.TrimPrefix(cp.Name, "process/"), Position: cp.Position.String(),
		Head: head.String(), UpdatedAt: cp.UpdatedAt}
	if cp.Position.Sequence < head.Sequence {
		l.LagEvents = head.Sequence - cp.Position.Sequence
	}
	return l
}
