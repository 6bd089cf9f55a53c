package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
)

// lifecycleCommands are streams delete, truncate, archive, metadata and
// reclaim, over the store that
// scope confines to --tenant.
func lifecycleCommands(cfg *config, scope func(*pgstore.Store) (*pgstore.Store, error)) []*cobra.Command {
	open := func(ctx context.Context) (*pgstore.Store, func(), error) {
		store, closeFn, err := cfg.store(ctx)
		if err != nil {
			return nil, nil, err
		}
		scoped, err := scope(store)
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		return scoped, closeFn, nil
	}

	var hard, yes bool
	var expected int64
	del := &cobra.Command{
		Use:   "delete STREAM",
		Short: "Delete a stream: soft (it may be recreated) or, with --hard, for good",
		Long: `Delete a stream. A soft delete hides the stream's events from reads; an
append recreates the stream, its versions continuing. A hard delete erases
the stream's events and leaves a tombstone: the stream can never be
appended to again. It asks for the stream ID as confirmation unless --yes
is given. Both tell readers of the log (projections, the relay) in order.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mode := eventstore.SoftDelete
			if hard {
				mode = eventstore.HardDelete
				if !yes {
					if err := confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), args[0]); err != nil {
						return err
					}
				}
			}
			store, closeFn, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			exp := eventstore.Any
			if cmd.Flags().Changed("expected-version") {
				exp = eventstore.Exact(expected)
			}
			pos, err := store.DeleteStream(cmd.Context(), args[0], exp, mode)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stream %q deleted (%s) at position %s\n", args[0], mode, pos)
			return nil
		},
	}
	del.Flags().BoolVar(&hard, "hard", false, "erase the events and tombstone the stream: it can never be appended to again")
	del.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation of a hard delete")
	del.Flags().Int64Var(&expected, "expected-version", 0, "delete only if the stream is at this version (default: any)")

	var before int64
	trunc := &cobra.Command{
		Use:   "truncate STREAM --before VERSION",
		Short: "Hide a stream's events before a version from reads (after a snapshot, say)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, closeFn, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			pos, err := store.TruncateStream(cmd.Context(), args[0], before)
			if err != nil {
				return err
			}
			if pos.IsZero() {
				fmt.Fprintf(cmd.OutOrStdout(), "stream %q is already truncated before version %d or later\n", args[0], before)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stream %q truncated before version %d at position %s\n", args[0], before, pos)
			return nil
		},
	}
	trunc.Flags().Int64Var(&before, "before", 0, "first version to keep readable (required)")
	_ = trunc.MarkFlagRequired("before")
	return []*cobra.Command{del, trunc, archiveCommand(open), metadataCommand(open), reclaimCommand(open)}
}

// archiveCommand is streams archive: seal a finished stream and move its
// events to the archive, or with --read print what the archive holds.
func archiveCommand(open func(context.Context) (*pgstore.Store, func(), error)) *cobra.Command {
	var expected int64
	var read bool
	cmd := &cobra.Command{
		Use:   "archive STREAM [--expected-version N] [--read]",
		Short: "Archive a finished stream: its events leave the hot log for the archive, and it takes no more appends",
		Long: `Archive a finished stream. A marker at the version after its last tells
readers of the log (projections, the relay) in order; the stream's events
move to the archive table, where --read prints them, and every later
append to the stream fails. A hard delete of the stream erases its
archive too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, closeFn, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			if read {
				recs, err := store.ReadArchivedStream(cmd.Context(), args[0], 0, 0)
				if err != nil {
					return err
				}
				for _, r := range recs {
					fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\t%s\t%s\n", r.Version, r.Position, r.Type, r.RecordedAt.Format(time.RFC3339Nano))
				}
				return nil
			}
			exp := eventstore.Any
			if cmd.Flags().Changed("expected-version") {
				exp = eventstore.Exact(expected)
			}
			pos, err := store.ArchiveStream(cmd.Context(), args[0], exp)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stream %q archived at position %s\n", args[0], pos)
			return nil
		},
	}
	cmd.Flags().Int64Var(&expected, "expected-version", 0, "archive only if the stream is at this version (default: any)")
	cmd.Flags().BoolVar(&read, "read", false, "print the archived events (version, position, type, recorded at) instead")
	return cmd
}

// metadataCommand is streams metadata: print a stream's retention, or set
// it with --max-age and --max-count.
func metadataCommand(open func(context.Context) (*pgstore.Store, func(), error)) *cobra.Command {
	var meta eventstore.StreamMetadata
	cmd := &cobra.Command{
		Use:   "metadata STREAM [--max-age D] [--max-count N]",
		Short: "Print a stream's retention, or set it: reads hide events older than --max-age or beyond the last --max-count",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, closeFn, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			if cmd.Flags().Changed("max-age") || cmd.Flags().Changed("max-count") {
				if _, err := store.SetStreamMetadata(cmd.Context(), args[0], meta); err != nil {
					return err
				}
			} else if meta, err = store.ReadStreamMetadata(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stream %q: max age %s, max count %s\n", args[0], limit(meta.MaxAge > 0, meta.MaxAge.String()),
				limit(meta.MaxCount > 0, fmt.Sprint(meta.MaxCount)))
			return nil
		},
	}
	cmd.Flags().DurationVar(&meta.MaxAge, "max-age", 0, "hide events recorded longer ago than this (0: no limit)")
	cmd.Flags().Int64Var(&meta.MaxCount, "max-count", 0, "hide all but the last N events (0: no limit)")
	return cmd
}

func limit(set bool, s string) string {
	if !set {
		return "none"
	}
	return s
}

// reclaimCommand is streams reclaim: one pass of the store's Reclaimer.
func reclaimCommand(open func(context.Context) (*pgstore.Store, func(), error)) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "reclaim",
		Short: "Erase the events no read returns any more (deleted, truncated, expired), but each stream's last",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, closeFn, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			var r eventstore.Reclaimer = store
			if all {
				r = store.AllTenants()
			}
			n, err := r.ReclaimStreams(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reclaimed %d events\n", n)
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all-tenants", false, "reclaim every tenant's streams")
	return cmd
}

// errNotConfirmed reports a hard delete that was not confirmed.
var errNotConfirmed = errors.New("hard delete not confirmed: nothing deleted")

// confirm asks for streamID to be typed on in before a hard delete.
func confirm(in io.Reader, out io.Writer, streamID string) error {
	fmt.Fprintf(out, "Hard-deleting %q erases its events and it can never be appended to again.\nType the stream ID to confirm: ", streamID)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimRight(line, "\r\n") != streamID {
		return errNotConfirmed
	}
	return nil
}
