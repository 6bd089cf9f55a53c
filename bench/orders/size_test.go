package orders

import (
	"encoding/json"
	"testing"
)

func TestEventSize(t *testing.T) {
	b, err := json.Marshal(NewEvent("0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d30", "SKU-000123", 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 190 || len(b) > 215 {
		t.Errorf("event is %d bytes of JSON, want about 200", len(b))
	}
	s := Decider.Evolve(State{}, NewEvent("o", "s", 2))
	if s.Items != 2 || s.Lines != 1 {
		t.Errorf("evolve: %+v", s)
	}
}
