// Package orders is the small domain the benchmark's command and
// projection scenarios (3 to 8) share: an order stream that receives
// AddItem commands and records ItemAdded events of the same size as the
// append scenarios' events, and a projection that keeps one document per
// order in Redis.
package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// EventType is ItemAdded's stored type name.
const EventType = "OrderItemAdded"

// AddItem is the command.
type AddItem struct {
	SKU      string
	Quantity int
}

// ItemAdded is the event. Its JSON encoding is about 200 bytes, like the
// append scenarios' payload.
type ItemAdded struct {
	OrderID   string `json:"order_id"`
	SKU       string `json:"sku"`
	Quantity  int    `json:"quantity"`
	UnitPrice int    `json:"unit_price_cents"`
	Currency  string `json:"currency"`
	Note      string `json:"note"`
}

// note pads an ItemAdded to about 200 bytes of JSON.
var note = strings.Repeat("x", 70)

// NewEvent returns the event an AddItem produces for an order.
func NewEvent(orderID, sku string, qty int) ItemAdded {
	return ItemAdded{OrderID: orderID, SKU: sku, Quantity: qty, UnitPrice: 1999, Currency: "EUR", Note: note}
}

// State is an order as the decider sees it. It round-trips through JSON, so
// snapshots can hold it.
type State struct {
	ID    string `json:"id"`
	Items int    `json:"items"`
	Lines int    `json:"lines"`
}

// Decider handles AddItem: always accepted, one event each.
var Decider = command.Decider[State, AddItem, ItemAdded]{
	Evolve: func(s State, e ItemAdded) State {
		s.ID = e.OrderID
		s.Items += e.Quantity
		s.Lines++
		return s
	},
	Decide: func(c AddItem, s State) ([]ItemAdded, error) {
		if c.Quantity <= 0 {
			return nil, fmt.Errorf("orders: quantity %d", c.Quantity)
		}
		id := s.ID
		if id == "" {
			id = "0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d30"
		}
		return []ItemAdded{NewEvent(id, c.SKU, c.Quantity)}, nil
	},
}

// NewRegistry returns a registry with ItemAdded registered.
func NewRegistry() (*command.Registry, error) {
	reg := command.NewRegistry(nil)
	if err := command.Register[ItemAdded](reg, EventType, nil); err != nil {
		return nil, err
	}
	return reg, nil
}

// NewHandler returns a command handler for orders over store, with
// snapshots in snaps when it is not nil.
func NewHandler(store eventstore.Store, snaps command.SnapshotStore) (*command.Handler[State, AddItem, ItemAdded], error) {
	reg, err := NewRegistry()
	if err != nil {
		return nil, err
	}
	opts := &command.Options{}
	if snaps != nil {
		opts.Snapshots = &command.Snapshots{Store: snaps}
	}
	return command.NewHandler(store, reg, Decider, opts)
}

// Order is the read model's document: one per order stream.
type Order struct {
	ID      string `json:"id"`
	Items   int    `json:"items"`
	Lines   int    `json:"lines"`
	LastSKU string `json:"last_sku"`
	Version int64  `json:"version"`
}

// Model is the read model: JSON documents, no secondary index.
var Model = readmodel.Model[Order]{}

// ProjectionName names the projection and its read model.
const ProjectionName = "orders"

// NewProjection returns the orders projection at version. With
// readModifyWrite, each event loads the order's document and stores it
// back updated (the usual shape of a projection); without, each event
// overwrites the document from the event alone, with no read.
func NewProjection(version string, readModifyWrite bool) *projection.Projection {
	reg, err := NewRegistry()
	if err != nil {
		panic(err) // one constant registration: cannot fail
	}
	p := projection.New(ProjectionName, version, reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e ItemAdded) error {
		var o Order
		if readModifyWrite {
			var err error
			if o, _, err = projection.Load(ctx, tx, Model, rec.StreamID); err != nil {
				return err
			}
		}
		o.ID = rec.StreamID
		o.Items += e.Quantity
		o.Lines++
		o.LastSKU = e.SKU
		o.Version = rec.Version
		return projection.Store(tx, Model, rec.StreamID, o)
	})
	return p
}

// Doc returns the document the projection holds for an order after one
// event at version, as bytes, for baselines that write the same documents
// without eventfold.
func Doc(streamID string, version int64) []byte {
	b, _ := json.Marshal(Order{ID: streamID, Items: 3 * int(version), Lines: int(version), LastSKU: "SKU-000123", Version: version})
	return b
}
