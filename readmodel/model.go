package readmodel

import (
	"context"
	"encoding/json"
)

// Codec encodes documents to bytes and back.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default Codec: encoding/json.
type JSON struct{}

// Marshal implements Codec.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Codec.
func (JSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Index declares a secondary index of documents of type T.
type Index[T any] struct {
	// Name names the index in Query.Index. Required and unique per Model.
	Name string
	// Values returns the values doc is indexed under: none, one, or
	// several. Zero Values are skipped.
	Values func(doc T) []Value
}

// By returns an Index that places each document under the one value f
// returns, or leaves it out when f returns the zero Value.
func By[T any](name string, f func(doc T) Value) Index[T] {
	return Index[T]{Name: name, Values: func(doc T) []Value { return []Value{f(doc)} }}
}

// Model describes the documents of type T a projection keeps in a
// namespace: how they are encoded and how they are indexed. It turns typed
// documents into Writes for a Batch and reads them back through a Reader.
// The zero Model encodes with JSON and has no indexes. A Model is a value
// and safe for concurrent use.
type Model[T any] struct {
	// Indexes are the secondary indexes the model maintains.
	Indexes []Index[T]
	// Codec encodes documents. Nil means JSON.
	Codec Codec
}

func (m Model[T]) codec() Codec {
	if m.Codec == nil {
		return JSON{}
	}
	return m.Codec
}

// Put returns the Write that stores doc as document id at revision rev,
// with its entries in every index of m.
func (m Model[T]) Put(id string, rev Revision, doc T) (Write, error) {
	data, err := m.codec().Marshal(doc)
	if err != nil {
		return Write{}, &InvalidInputError{Field: "document " + id, Reason: "cannot be encoded", Err: err}
	}
	w := Write{ID: id, Revision: rev, Data: data}
	seen := make(map[string]bool, len(m.Indexes))
	for _, ix := range m.Indexes {
		if seen[ix.Name] {
			return Write{}, invalid("model index "+ix.Name, "is declared twice")
		}
		seen[ix.Name] = true
		if ix.Values == nil {
			continue
		}
		for _, v := range ix.Values(doc) {
			if !v.IsZero() {
				w.Entries = append(w.Entries, Entry{Index: ix.Name, Value: v})
			}
		}
	}
	return w, nil
}

// Delete returns the Write that deletes document id at revision rev.
func (m Model[T]) Delete(id string, rev Revision) Write {
	return Write{ID: id, Revision: rev, Delete: true}
}

// Decode decodes a stored document.
func (m Model[T]) Decode(d Document) (T, error) {
	var doc T
	if err := m.codec().Unmarshal(d.Data, &doc); err != nil {
		return doc, &DecodeError{ID: d.ID, Err: err}
	}
	return doc, nil
}

// View returns a typed, read-only view of the documents of ns in r.
func (m Model[T]) View(r Reader, ns Namespace) View[T] {
	return View[T]{model: m, r: r, ns: ns}
}

// DecodeError reports a stored document the Codec could not decode.
type DecodeError struct {
	ID  string
	Err error
}

func (e *DecodeError) Error() string {
	return "readmodel: decode document " + e.ID + ": " + e.Err.Error()
}

// Unwrap returns the Codec's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Item is a decoded document.
type Item[T any] struct {
	ID       string
	Revision Revision
	Doc      T
}

// ItemPage is one page of a typed query.
type ItemPage[T any] struct {
	Items []Item[T]
	// Next is the cursor of the following page, or empty on the last.
	Next string
}

// View reads documents of type T from one namespace. It holds a Reader only.
type View[T any] struct {
	model Model[T]
	r     Reader
	ns    Namespace
}

// Namespace returns the namespace v reads.
func (v View[T]) Namespace() Namespace { return v.ns }

// Get returns document id; see Reader.Get.
func (v View[T]) Get(ctx context.Context, id string) (T, error) {
	d, err := v.r.Get(ctx, v.ns, id)
	if err != nil {
		var zero T
		return zero, err
	}
	return v.model.Decode(d)
}

// GetMany returns the documents named by ids that exist; see
// Reader.GetMany.
func (v View[T]) GetMany(ctx context.Context, ids []string) ([]Item[T], error) {
	docs, err := v.r.GetMany(ctx, v.ns, ids)
	if err != nil {
		return nil, err
	}
	return v.items(docs)
}

// Query returns one page of documents found through an index; see
// Reader.Query.
func (v View[T]) Query(ctx context.Context, q Query) (ItemPage[T], error) {
	p, err := v.r.Query(ctx, v.ns, q)
	if err != nil {
		return ItemPage[T]{}, err
	}
	items, err := v.items(p.Documents)
	if err != nil {
		return ItemPage[T]{}, err
	}
	return ItemPage[T]{Items: items, Next: p.Next}, nil
}

func (v View[T]) items(docs []Document) ([]Item[T], error) {
	items := make([]Item[T], 0, len(docs))
	for _, d := range docs {
		doc, err := v.model.Decode(d)
		if err != nil {
			return nil, err
		}
		items = append(items, Item[T]{ID: d.ID, Revision: d.Revision, Doc: doc})
	}
	return items, nil
}
