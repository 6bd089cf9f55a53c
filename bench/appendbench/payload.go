package appendbench

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/eventfold/eventfold/eventstore"
)

// Every contender writes the same event: a 202-byte JSON payload of this
// type, with about 110 bytes of JSON metadata (a correlation and a
// causation ID).
const (
	eventType   = "OrderItemAdded.v1xx"
	payloadSize = 202
)

var (
	payload = makePayload()
	meta    = eventstore.Metadata{
		CorrelationID: "0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2e",
		CausationID:   "0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d2f",
	}
	metaJSON = mustJSON(meta)
	// metaMap is meta as watermill message metadata.
	metaMap = map[string]string{"correlation_id": meta.CorrelationID, "causation_id": meta.CausationID}
)

func makePayload() []byte {
	head := `{"order_id":"0193a5f2-7c1e-7b4a-9d2e-4f6a8b0c1d30","sku":"SKU-000123","quantity":3,"unit_price_cents":1999,"currency":"EUR","note":"`
	tail := `"}`
	pad := payloadSize - len(head) - len(tail)
	if pad < 0 {
		panic(fmt.Sprintf("appendbench: payload head is %d bytes", len(head)))
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
