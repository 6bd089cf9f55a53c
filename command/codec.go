package command

import "encoding/json"

// Codec turns event payloads and snapshot states into bytes and back. A
// Codec is safe for concurrent use.
type Codec interface {
	// ContentType names the encoding, for example "application/json". It is
	// stored with every event as eventstore.Event.ContentType.
	ContentType() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default [Codec]: encoding/json with the content type
// eventstore.ContentTypeJSON.
type JSONCodec struct{}

// ContentType returns "application/json".
func (JSONCodec) ContentType() string { return "application/json" }

// Marshal encodes v with json.Marshal.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes data with json.Unmarshal.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
