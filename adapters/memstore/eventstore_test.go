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
		ForTenant: func(s eventstore.Store, tenant string) (eventstore.Store, error) {
			return s.(*memstore.Store).ForTenant(tenant)
		},
		AllTenants: func(s eventstore.Store) eventstore.Store { return s.(*memstore.Store).AllTenants() },
	})
}

func TestHead(t *testing.T) {
	s := memstore.New(nil)
	if p, err := s.Head(t.Context()); err != nil || !p.IsZero() {
		t.Fatalf("Head of an empty store = %v, %v", p, err)
	}
	res, err := s.Append(t.Context(), "s", eventstore.NoStream, []eventstore.Event{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Head(t.Context()); err != nil || p != res.Position {
		t.Errorf("Head = %v, %v; want %v", p, err, res.Position)
	}
}
