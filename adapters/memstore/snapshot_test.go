package memstore_test

import (
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
)

func TestSnapshotsConformance(t *testing.T) {
	commandtest.RunSnapshotStore(t, commandtest.SnapshotConfig{
		Features: commandtest.Features{Tenants: true},
		New: func(t testing.TB) command.SnapshotStore {
			return memstore.NewSnapshots(nil)
		},
	})
}
