package memstore_test

import (
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
