package projectiontest_test

import (
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
)

func TestLogSourceConformance(t *testing.T) {
	projectiontest.RunSource(t, projectiontest.SourceConfig{
		New: func(t testing.TB) (eventstore.Store, projection.Source) {
			store := memstore.New(nil)
			return store, projection.LogSource(store, nil)
		},
		Features: projectiontest.SourceFeatures{Head: true},
	})
}

// A store without Notifier is polled: the suite bounds how long an idle
// read may take.
func TestLogSourcePollingConformance(t *testing.T) {
	projectiontest.RunSource(t, projectiontest.SourceConfig{
		New: func(t testing.TB) (eventstore.Store, projection.Source) {
			store := memstore.New(nil)
			return store, projection.LogSource(pollOnly{store}, &projection.LogOptions{MaxPoll: 20 * time.Millisecond})
		},
	})
}

// pollOnly hides memstore's Notifier and HeadReader.
type pollOnly struct{ eventstore.Store }
