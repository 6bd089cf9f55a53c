package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
)

func horizonCommand(cfg *config) *cobra.Command {
	var tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "horizon",
		Short: "Show committed events that readers of the log cannot see yet, and the open transactions holding them back",
		Long: `Readers of the global log (projections, relays) see an event only once
every transaction that started before it has ended, anywhere in the
PostgreSQL cluster. When projections stop advancing while appends succeed,
an open transaction is holding the log back: horizon counts the committed
events it hides (every tenant's, or only --tenant's) and lists the
transactions to end, oldest first. With --postgres-replica-url it also
shows how far that hot standby is behind the primary, or that it cannot
be reached (relays, workers and consoles then read the primary).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, closeFn, err := cfg.store(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			var view interface {
				HeldBack(context.Context) (pgstore.HeldBack, error)
			} = store.AllTenants()
			if cmd.Flags().Changed("tenant") {
				if view, err = store.ForTenant(tenant); err != nil {
					return fmt.Errorf("--tenant: %w", err)
				}
			}
			hb, err := view.HeldBack(cmd.Context())
			if err != nil {
				return err
			}
			standby, err := cfg.standbyLag(cmd.Context(), store)
			if err != nil {
				return err
			}
			if asJSON {
				if hb.Holders == nil {
					hb.Holders = []pgstore.HorizonHolder{}
				}
				return writeJSON(cmd.OutOrStdout(), horizonReport{hb, standby})
			}
			if err := printHeldBack(cmd.OutOrStdout(), hb, time.Now()); err != nil {
				return err
			}
			return printStandby(cmd.OutOrStdout(), standby, time.Now())
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "count only this tenant's events (default: every tenant's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func printHeldBack(w io.Writer, hb pgstore.HeldBack, now time.Time) error {
	if hb.Events == 0 {
		_, err := fmt.Fprintln(w, "nothing is held back: readers of the log see every committed event")
		return err
	}
	fmt.Fprintf(w, "%s held back from readers of the log for %s by %s, oldest first:\n\n",
		plural(hb.Events, "committed event is", "committed events are"), now.Sub(hb.HeldSince()).Round(time.Second),
		plural(int64(len(hb.Holders)), "open transaction", "open transactions"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tPREPARED\tDATABASE\tUSER\tAPPLICATION\tSTATE\tOPEN FOR\tXID AGE\tQUERY")
	for _, h := range hb.Holders {
		query := strings.Join(strings.Fields(h.Query), " ")
		if len(query) > 60 {
			query = query[:57] + "..."
		}
		state, open := h.State, now.Sub(h.Started).Round(time.Second).String()
		if h.Hidden {
			state, open = "(hidden)", "?"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", h.PID, h.PreparedID, h.Database, h.User, h.Application, state,
			open, h.XIDAge, query)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := hb.HiddenHolders(); n > 0 {
		fmt.Fprintf(w, "\nPostgreSQL hides the state, start and query of %s from this role: it shows them only to\n"+
			"the holder's role and to members of pg_read_all_stats. The log has been held back at least since\n"+
			"the oldest held-back event was recorded, %s.\n",
			plural(int64(n), "transaction", "transactions"), hb.Since.UTC().Format(time.RFC3339))
	}
	_, err := fmt.Fprintln(w, "\nEnd a transaction with SELECT pg_terminate_backend(PID), or a prepared one with\nCOMMIT PREPARED 'ID' or ROLLBACK PREPARED 'ID'. Set idle_in_transaction_session_timeout\nso a forgotten one ends by itself.")
	return err
}

// horizonReport is horizon's JSON: HeldBack's fields, and the standby's
// lag when --postgres-replica-url is set.
type horizonReport struct {
	pgstore.HeldBack
	Standby *standbyReport `json:"standby,omitempty"`
}

// standbyReport is the lag of the --postgres-replica-url standby, or why
// it could not be measured.
type standbyReport struct {
	pgstore.ReplicaLag
	Error string `json:"error,omitempty"`
}

// standbyLag measures the --postgres-replica-url standby's lag; nil when
// none is set.
func (c *config) standbyLag(ctx context.Context, store *pgstore.Store) (*standbyReport, error) {
	replica, closeReplica, err := c.replica(ctx, store, nil)
	if err != nil || replica == nil {
		return nil, err
	}
	defer closeReplica()
	lag, err := replica.Lag(ctx)
	if err != nil {
		return &standbyReport{Error: err.Error()}, nil
	}
	return &standbyReport{ReplicaLag: lag}, nil
}

func printStandby(w io.Writer, r *standbyReport, now time.Time) error {
	var err error
	switch {
	case r == nil:
	case r.Error != "":
		_, err = fmt.Fprintf(w, "\nstandby: cannot measure its lag (%s); readers of the log use the primary meanwhile\n", r.Error)
	case r.ReplayedAt.IsZero():
		_, err = fmt.Fprintf(w, "\nstandby: %d bytes of WAL behind the primary; no transaction replayed since it started\n", r.Bytes)
	default:
		_, err = fmt.Fprintf(w, "\nstandby: %d bytes of WAL behind the primary; last replayed commit %s ago\n",
			r.Bytes, now.Sub(r.ReplayedAt).Round(time.Millisecond))
	}
	return err
}

// plural returns "1 one" or "n many".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
