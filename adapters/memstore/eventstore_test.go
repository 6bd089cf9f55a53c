package memstore_test

import (
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/eventstore/eventstoretest"
)

func TestEventStoreConformance(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Config{
		New: func(t testing.TB) eventstore.Store { return memstore.New(nil) },
	})
}
