package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
)

// With the application's registry, streams show prints events as deciders
// and projections read them: upcast to the current schema version. An
// event the registry cannot upcast is shown as stored, with the reason.
func TestStreamsShowUpcasts(t *testing.T) {
	pool, schema := testenv.Schema(t)
	pg := []string{"--postgres-url", testenv.PostgresURL(), "--schema", schema}
	mustCLI(t, append([]string{"migrate"}, pg...)...)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(t.Context(), "item-1", eventstore.NoStream, []eventstore.Event{
		{Type: "StockAdded", Data: []byte(`{"qty":10}`)},
		{Type: "StockCounted", Data: []byte(`{"n":3}`)},
	}); err != nil {
		t.Fatal(err)
	}
	type qtyV1 struct {
		Qty int `json:"qty"`
	}
	type stockAdded struct {
		Quantity int `json:"quantity"`
	}
	reg := command.NewRegistry(nil)
	if err := command.Register[stockAdded](reg, "StockAdded", &command.EventOptions{
		Version:   2,
		Upcasters: map[int]command.UpcastFunc{1: command.Upcast(command.JSONCodec{}, func(v qtyV1) (stockAdded, error) { return stockAdded{v.Qty}, nil })},
	}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	opts := Options{Stdout: &out, Stderr: &errOut, Registry: reg}
	if err := Execute(t.Context(), append([]string{"streams", "show", "item-1"}, pg...), opts); err != nil {
		t.Fatalf("streams show: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{`{"quantity":10}`, `{"n":3}`, `shown as stored: command: event type "StockCounted" is not registered`} {
		if !strings.Contains(text, want) {
			t.Errorf("streams show lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"qty"`) {
		t.Errorf("streams show printed the stored schema version:\n%s", text)
	}
}
