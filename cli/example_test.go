package cli_test

import (
	"context"
	"os"

	"github.com/eventfold/eventfold/cli"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
)

// An application's main mounts the command line with its projections, so
// that "shop worker" runs them and "shop projections rebuild orders"
// rebuilds one. Here it only prints the worker's help.
func Example() {
	opts := cli.Options{
		Use: "shop",
		Projections: func(ctx context.Context, deps cli.Deps) ([]projection.Config, error) {
			orders := projection.New("orders", "1", nil)
			orders.On("OrderPlaced", func(ctx context.Context, tx *projection.Tx, rec eventstore.Record) error {
				tx.Put(rec.StreamID, rec.Data)
				return nil
			})
			// Source, Store and Logger default to the command's connections.
			return []projection.Config{{Projection: orders}}, nil
		},
		Stdout: os.Stdout,
	}
	// In main: cli.Main(opts)
	root := cli.Command(opts)
	root.SetArgs([]string{"worker", "--help"})
	root.SetOut(os.Stdout)
	_ = root.ExecuteContext(context.Background())
}
