package pgstore_test

import (
	"testing"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
)

// LogSource over PostgreSQL: positions are (transaction, sequence) pairs,
// appends wake the feed through the store's Notifier.
func TestLogSourceConformance(t *testing.T) {
	projectiontest.RunSource(t, projectiontest.SourceConfig{
		New: func(t testing.TB) (eventstore.Store, projection.Source) {
			store := newStore(t, nil)
			return store, projection.LogSource(store, nil)
		},
		Features: projectiontest.SourceFeatures{Head: true},
	})
}
