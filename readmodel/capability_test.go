package readmodel_test

import (
	"fmt"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/readmodel"
)

// Query code handed a ReadOnly reader cannot find the store's Writer.
func ExampleWritable() {
	store := memstore.NewReadModels(nil)
	_, canWrite := readmodel.Writable(store)
	fmt.Println("store:", canWrite)
	_, canWrite = readmodel.Writable(readmodel.ReadOnly(store))
	fmt.Println("read-only:", canWrite)
	// Output:
	// store: true
	// read-only: false
}

// counting is a decorator that hides its store's type but keeps its
// capabilities through Unwrap.
type counting struct {
	readmodel.Store
	inner readmodel.Store
}

func (c counting) Unwrap() readmodel.Store { return c.inner }

// marker is a capability readmodel does not know.
type marker interface{ Mark() string }

type marked struct{ readmodel.Store }

func (marked) Mark() string { return "marked" }

// offering offers marker through its As method only.
type offering struct{ readmodel.Reader }

func (offering) As(target any) bool {
	if m, ok := target.(*marker); ok {
		*m = marked{}
		return true
	}
	return false
}

// selfWrapped unwraps to itself: As must stop.
type selfWrapped struct{ readmodel.Store }

func (s *selfWrapped) Unwrap() readmodel.Reader { return s }

func TestAs(t *testing.T) {
	store := marked{memstore.NewReadModels(nil)}
	if m, ok := readmodel.As[marker](counting{struct{ readmodel.Store }{store}, store}); !ok || m.Mark() != "marked" {
		t.Errorf("As through Unwrap() Store = %v, %v; want the wrapped store's capability", m, ok)
	}
	if _, ok := readmodel.As[marker](struct{ readmodel.Store }{store}); ok {
		t.Error("As found a capability behind a wrapper without Unwrap")
	}
	if m, ok := readmodel.As[marker](offering{}); !ok || m.Mark() != "marked" {
		t.Errorf("As through an As method = %v, %v", m, ok)
	}
	if _, ok := readmodel.As[marker](readmodel.ReadOnly(store)); ok {
		t.Error("As found a capability behind ReadOnly")
	}
	if _, ok := readmodel.As[marker](&selfWrapped{memstore.NewReadModels(nil)}); ok {
		t.Error("As found a capability in a chain that unwraps to itself")
	}
	if _, ok := readmodel.As[marker](nil); ok {
		t.Error("As(nil) found a capability")
	}
}
