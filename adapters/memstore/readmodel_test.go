package memstore_test

import (
	"fmt"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/readmodel"
	"github.com/eventfold/eventfold/readmodel/readmodeltest"
)

func TestReadModelConformance(t *testing.T) {
	t.Parallel()
	readmodeltest.Run(t, readmodeltest.Config{
		New: func(t testing.TB) readmodel.Store { return memstore.NewReadModels(nil) },
	})
}

// TestPartitionedReadModelConformance runs the suite on a read model spread
// over partitions, each a namespace of the reference store.
func TestPartitionedReadModelConformance(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(n, "partitions"), func(t *testing.T) {
			t.Parallel()
			readmodeltest.Run(t, readmodeltest.Config{
				New: func(t testing.TB) readmodel.Store {
					p, err := readmodel.NewPartitioned(memstore.NewReadModels(nil), n)
					if err != nil {
						t.Fatal(err)
					}
					return p
				},
				PartitionOf: func(id string) int { return readmodel.PartitionOf(id, n) },
			})
		})
	}
}
