package projectiontest_test

import (
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
)

// A read model drops a stream's document when the stream is deleted, and
// keeps the documents of other streams; a soft-deleted stream that is
// recreated gets its document back.
func TestReadModelDropsDocumentOnDelete(t *testing.T) {
	for _, mode := range []eventstore.DeleteMode{eventstore.SoftDelete, eventstore.HardDelete} {
		t.Run(mode.String(), func(t *testing.T) {
			p := stockProjection(t).OnStreamDeleted(projection.DropDocumentOnDelete)
			s := projectiontest.For(t, p, memstore.NewReadModels(nil)).
				Given("stock-1", stockAdded{Quantity: 5}).
				Given("stock-2", stockAdded{Quantity: 7})
			projectiontest.ThenDocuments(s, stockModel, map[string]stock{"stock-1": {Total: 5}, "stock-2": {Total: 7}})
			s.GivenDeleted("stock-1", mode)
			projectiontest.ThenDocuments(s, stockModel, map[string]stock{"stock-2": {Total: 7}})
			if mode == eventstore.SoftDelete {
				s.Given("stock-1", stockAdded{Quantity: 2})
				projectiontest.ThenDocuments(s, stockModel, map[string]stock{"stock-1": {Total: 2}, "stock-2": {Total: 7}})
			}
		})
	}
}

// A read model that drops a stream's document when the stream is archived
// keeps the documents of other streams.
func TestReadModelDropsDocumentOnArchive(t *testing.T) {
	p := stockProjection(t).OnStreamArchived(projection.DropDocumentOnDelete)
	s := projectiontest.For(t, p, memstore.NewReadModels(nil)).
		Given("stock-1", stockAdded{Quantity: 5}).
		Given("stock-2", stockAdded{Quantity: 7}).
		GivenArchived("stock-1")
	projectiontest.ThenDocuments(s, stockModel, map[string]stock{"stock-2": {Total: 7}})
}
