package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/console"
)

// consoleTokenEnv holds the console's token, so it need not be on the
// command line (where ps shows it).
const consoleTokenEnv = "EVENTFOLD_CONSOLE_TOKEN"

func consoleCommand(cfg *config) *cobra.Command {
	var listen, token, tenant string
	var sampleEvery time.Duration
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Serve the read-only web console (projections and their lag, streams, correlation IDs)",
		Long: `Serve a small web page where an operator sees the projections (found through
the catalog their runners keep) with their lag over time, browses streams and
their events, and follows one correlation ID across commands, events and
projections. The console only reads: it has no write actions.

It listens on 127.0.0.1:8080 by default. With a token (--token or
` + consoleTokenEnv + `), every API request needs "Authorization: Bearer <token>";
open the page once as http://HOST:PORT/?token=<token> and it keeps the token
for the tab. Put it behind TLS before listening beyond localhost.

The page browses one tenant at a time (the default tenant unless another is
typed in its tenant field), follows a correlation ID in one tenant or in
every tenant, and groups projections by tenant, each measured against its own
tenant's head. With --tenant the console shows that tenant alone and refuses
requests for any other.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if token == "" {
				token = os.Getenv(consoleTokenEnv)
			}
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
			log, err := cfg.logger(cmd, slog.LevelInfo)
			if err != nil {
				return err
			}
			replica, closeReplica, err := cfg.replica(ctx, store, log)
			if err != nil {
				return err
			}
			defer closeReplica()
			srv, err := console.New(console.Config{Events: consoleEvents{store, replica}, ReadModels: rm, Token: token,
				Tenant: tenant, SampleEvery: sampleEvery, Registry: cfg.opts.Registry, Logger: log})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("console: %w", err)
			}
			auth := "no token: anyone who reaches the address can read"
			if token != "" {
				auth = "token required"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "console on http://%s/ (read-only, %s)\n", ln.Addr(), auth)
			if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&token, "token", "", "token every API request must carry (default $"+consoleTokenEnv+")")
	cmd.Flags().StringVar(&tenant, "tenant", "", "show only this tenant's streams, events and projections (default: every tenant, browsed one at a time)")
	cmd.Flags().DurationVar(&sampleEvery, "sample-every", 5*time.Second, "how often to sample projections' lag for the chart")
	return cmd
}

// consoleEvents gives the console pgstore's stream listing with a prefix,
// and its tenant views.
type consoleEvents struct {
	*pgstore.Store
	replica *pgstore.Replica // reads the log when --postgres-replica-url is set
}

// The projections page warns while an open transaction holds the log back.
var _ console.HeldBackReporter = consoleEvents{}

var _ console.TenantEvents = consoleEvents{}

func (e consoleEvents) ForTenant(tenant string) (console.Events, error) {
	v, err := e.Store.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	var r *pgstore.Replica
	if e.replica != nil {
		if r, err = e.replica.ForTenant(tenant); err != nil {
			return nil, err
		}
	}
	return consoleEvents{v, r}, nil
}

func (e consoleEvents) AllTenants() console.Events {
	all := consoleAllEvents{AllTenantsReader: e.Store.AllTenants()}
	if e.replica != nil {
		all.replica = e.replica.AllTenants()
	}
	return all
}

// ReadAll reads the standby when one is set.
func (e consoleEvents) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	if e.replica != nil {
		return e.replica.ReadAll(ctx, after, limit)
	}
	return e.Store.ReadAll(ctx, after, limit)
}

// consoleAllEvents gives the console pgstore's reader of every tenant's
// events, which reads and lists no stream.
type consoleAllEvents struct {
	*pgstore.AllTenantsReader
	replica *pgstore.AllTenantsReplica // reads the log when --postgres-replica-url is set
}

// ReadAll reads the standby when one is set.
func (e consoleAllEvents) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	if e.replica != nil {
		return e.replica.ReadAll(ctx, after, limit)
	}
	return e.AllTenantsReader.ReadAll(ctx, after, limit)
}

var (
	_ console.Events           = consoleAllEvents{}
	_ console.HeldBackReporter = consoleAllEvents{}
)

// errNoStreamsAcrossTenants answers a stream read or listing on the
// all-tenants reader: a stream belongs to one tenant.
var errNoStreamsAcrossTenants = &eventstore.InvalidInputError{Field: "tenant",
	Reason: "streams belong to one tenant; choose a tenant to read or list them"}

func (consoleAllEvents) ReadStream(context.Context, string, int64, eventstore.Direction, int) ([]eventstore.Record, error) {
	return nil, errNoStreamsAcrossTenants
}

func (consoleAllEvents) ListStreams(context.Context, string, string, int) ([]console.StreamInfo, error) {
	return nil, errNoStreamsAcrossTenants
}

func (e consoleEvents) ListStreams(ctx context.Context, prefix, after string, limit int) ([]console.StreamInfo, error) {
	infos, err := e.Store.ListStreamsWithPrefix(ctx, prefix, after, limit)
	out := make([]console.StreamInfo, len(infos))
	for i, s := range infos {
		out[i] = console.StreamInfo{ID: s.ID, Version: s.Version}
	}
	return out, err
}
