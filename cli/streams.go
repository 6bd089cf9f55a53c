package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

func streamsCommand(cfg *config) *cobra.Command {
	cmd := &cobra.Command{Use: "streams", Short: "Inspect, delete, truncate and archive the event store's streams"}
	var after, tenant string
	var limit int
	var asJSON bool
	// scope confines store to --tenant, when given.
	scope := func(store *pgstore.Store) (*pgstore.Store, error) {
		if tenant == "" {
			return store, nil
		}
		return store.ForTenant(tenant)
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List streams and their versions, in stream ID order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, closeFn, err := cfg.store(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			if store, err = scope(store); err != nil {
				return err
			}
			infos, err := store.ListStreams(cmd.Context(), after, limit)
			if err != nil {
				return err
			}
			if asJSON {
				if infos == nil {
					infos = []pgstore.StreamInfo{}
				}
				return writeJSON(cmd.OutOrStdout(), infos)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STREAM\tVERSION")
			for _, i := range infos {
				fmt.Fprintf(tw, "%s\t%d\n", i.ID, i.Version)
			}
			if len(infos) == limit {
				fmt.Fprintf(tw, "(more: --after %q)\n", infos[len(infos)-1].ID)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&after, "after", "", "list streams whose ID sorts after this one (paging)")
	list.Flags().IntVar(&limit, "limit", 100, "most streams to list")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")

	var from int64
	var showLimit int
	var showJSON bool
	show := &cobra.Command{
		Use:   "show STREAM",
		Short: "Print a stream's events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, closeFn, err := cfg.store(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			if store, err = scope(store); err != nil {
				return err
			}
			recs, err := store.ReadStream(cmd.Context(), args[0], from, eventstore.Forward, showLimit)
			if err != nil {
				return err
			}
			notes := upcastAll(cfg.opts.Registry, recs)
			if showJSON {
				return writeJSON(cmd.OutOrStdout(), recordsJSON(recs, notes))
			}
			return writeRecords(cmd.OutOrStdout(), recs, notes)
		},
	}
	show.Flags().Int64Var(&from, "from", 1, "first version to print")
	show.Flags().IntVar(&showLimit, "limit", 100, "most events to print")
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON instead of text")
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant whose streams to inspect (empty for the default tenant)")
	cmd.AddCommand(list, show)
	cmd.AddCommand(lifecycleCommands(cfg, scope)...)
	return cmd
}

// recordJSON is an event as streams show --json prints it: JSON data is
// embedded as JSON, other data as a base64 string.
type recordJSON struct {
	ID          string              `json:"id"`
	Stream      string              `json:"stream"`
	Version     int64               `json:"version"`
	Position    string              `json:"position"`
	Type        string              `json:"type"`
	ContentType string              `json:"content_type"`
	RecordedAt  time.Time           `json:"recorded_at"`
	Metadata    eventstore.Metadata `json:"metadata"`
	Data        any                 `json:"data"`
	// Note says why the event is shown as stored, not upcast.
	Note string `json:"note,omitempty"`
}

// upcastAll brings recs to their types' current schema versions with reg,
// in place, and returns, by index, why an event stays as stored. A nil reg
// leaves every event as stored.
func upcastAll(reg *command.Registry, recs []eventstore.Record) map[int]string {
	if reg == nil {
		return nil
	}
	notes := map[int]string{}
	for i, r := range recs {
		up, err := reg.UpcastRecord(r)
		if err != nil {
			notes[i] = "shown as stored: " + err.Error()
			continue
		}
		recs[i] = up
	}
	return notes
}

func recordsJSON(recs []eventstore.Record, notes map[int]string) []recordJSON {
	out := make([]recordJSON, 0, len(recs))
	for i, r := range recs {
		var data any = r.Data // []byte marshals as base64
		if (r.ContentType == "" || r.ContentType == eventstore.ContentTypeJSON) && json.Valid(r.Data) {
			data = json.RawMessage(r.Data)
		}
		out = append(out, recordJSON{ID: r.ID, Stream: r.StreamID, Version: r.Version, Position: r.Position.String(),
			Type: r.Type, ContentType: r.ContentType, RecordedAt: r.RecordedAt, Metadata: r.Metadata, Data: data, Note: notes[i]})
	}
	return out
}

func writeRecords(w io.Writer, recs []eventstore.Record, notes map[int]string) error {
	for i, r := range recs {
		fmt.Fprintf(w, "#%d %s  position %s  %s\n", r.Version, r.Type, r.Position, r.RecordedAt.UTC().Format(time.RFC3339Nano))
		if r.Metadata.CorrelationID != "" || r.Metadata.CausationID != "" {
			fmt.Fprintf(w, "   correlation %s  causation %s\n", r.Metadata.CorrelationID, r.Metadata.CausationID)
		}
		if json.Valid(r.Data) {
			fmt.Fprintf(w, "   %s\n", r.Data)
		} else {
			fmt.Fprintf(w, "   (%d bytes of %s)\n", len(r.Data), r.ContentType)
		}
		if n := notes[i]; n != "" {
			fmt.Fprintf(w, "   (%s)\n", n)
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
