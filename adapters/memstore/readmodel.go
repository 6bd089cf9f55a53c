package memstore

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/eventfold/eventfold/readmodel"
)

var _ readmodel.Store = (*ReadModels)(nil)

// ReadModelOptions configures ReadModels. A nil *ReadModelOptions means all
// defaults; there are none to set yet.
type ReadModelOptions struct{}

// ReadModels is an in-memory readmodel.Store. One lock serialises writers,
// so every Apply is atomic and every read sees a consistent state.
type ReadModels struct {
	mu  sync.RWMutex
	nss map[readmodel.Namespace]*rmNamespace
}

// NewReadModels returns an empty ReadModels.
func NewReadModels(opts *ReadModelOptions) *ReadModels {
	return &ReadModels{nss: make(map[readmodel.Namespace]*rmNamespace)}
}

type rmNamespace struct {
	checkpoint string
	docs       map[string]*rmDoc
	indexes    map[string]*rmIndex
}

type rmDoc struct {
	rev     readmodel.Revision
	deleted bool // a tombstone: rev is kept, data is not
	data    []byte
	entries []readmodel.Entry
}

// rmIndex is a sorted set of entry keys.
type rmIndex struct {
	keys []string
}

func (ix *rmIndex) add(key string) {
	i, found := slices.BinarySearch(ix.keys, key)
	if !found {
		ix.keys = slices.Insert(ix.keys, i, key)
	}
}

func (ix *rmIndex) remove(key string) {
	if i, found := slices.BinarySearch(ix.keys, key); found {
		ix.keys = slices.Delete(ix.keys, i, i+1)
	}
}

// Apply implements readmodel.Writer.
func (s *ReadModels) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	if err := ns.Validate(); err != nil {
		return readmodel.Result{}, err
	}
	if err := b.Validate(); err != nil {
		return readmodel.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return readmodel.Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nss[ns]
	if b.IfCheckpoint != nil {
		stored := ""
		if n != nil {
			stored = n.checkpoint
		}
		if stored != *b.IfCheckpoint {
			return readmodel.Result{}, readmodel.ErrCheckpointMismatch
		}
	}
	if n == nil {
		n = &rmNamespace{docs: make(map[string]*rmDoc), indexes: make(map[string]*rmIndex)}
		s.nss[ns] = n
	}
	var res readmodel.Result
	for i, w := range b.Writes {
		old := n.docs[w.ID]
		if old != nil && old.rev.Compare(w.Revision) >= 0 {
			res.Stale = append(res.Stale, i)
			continue
		}
		if old != nil {
			for _, e := range old.entries {
				if ix := n.indexes[e.Index]; ix != nil {
					ix.remove(readmodel.EntryKey(e.Value, w.ID))
				}
			}
		}
		d := &rmDoc{rev: w.Revision, deleted: w.Delete}
		if !w.Delete {
			d.data = append([]byte{}, w.Data...)
			d.entries = slices.Clone(w.Entries)
			for _, e := range w.Entries {
				ix := n.indexes[e.Index]
				if ix == nil {
					ix = &rmIndex{}
					n.indexes[e.Index] = ix
				}
				ix.add(readmodel.EntryKey(e.Value, w.ID))
			}
		}
		n.docs[w.ID] = d
		res.Applied++
	}
	if b.Checkpoint != "" {
		n.checkpoint = b.Checkpoint
	}
	return res, nil
}

// Drop implements readmodel.Writer.
func (s *ReadModels) Drop(ctx context.Context, ns readmodel.Namespace) error {
	if err := ns.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nss, ns)
	return nil
}

// Get implements readmodel.Reader.
func (s *ReadModels) Get(ctx context.Context, ns readmodel.Namespace, id string) (readmodel.Document, error) {
	if err := ns.Validate(); err != nil {
		return readmodel.Document{}, err
	}
	if err := readmodel.ValidateID(id); err != nil {
		return readmodel.Document{}, err
	}
	if err := ctx.Err(); err != nil {
		return readmodel.Document{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if d, ok := s.lookup(ns, id); ok {
		return d, nil
	}
	return readmodel.Document{}, readmodel.ErrNotFound
}

// lookup returns a copy of a live document. The caller holds s.mu.
func (s *ReadModels) lookup(ns readmodel.Namespace, id string) (readmodel.Document, bool) {
	n := s.nss[ns]
	if n == nil {
		return readmodel.Document{}, false
	}
	d := n.docs[id]
	if d == nil || d.deleted {
		return readmodel.Document{}, false
	}
	return readmodel.Document{ID: id, Data: append([]byte{}, d.data...), Revision: d.rev}, true
}

// GetMany implements readmodel.Reader.
func (s *ReadModels) GetMany(ctx context.Context, ns readmodel.Namespace, ids []string) ([]readmodel.Document, error) {
	if err := ns.Validate(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := readmodel.ValidateID(id); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	docs := make([]readmodel.Document, 0, len(ids))
	for _, id := range ids {
		if d, ok := s.lookup(ns, id); ok {
			docs = append(docs, d)
		}
	}
	return docs, nil
}

// Query implements readmodel.Reader.
func (s *ReadModels) Query(ctx context.Context, ns readmodel.Namespace, q readmodel.Query) (readmodel.Page, error) {
	if err := ns.Validate(); err != nil {
		return readmodel.Page{}, err
	}
	span, err := q.Span()
	if err != nil {
		return readmodel.Page{}, err
	}
	if err := ctx.Err(); err != nil {
		return readmodel.Page{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var page readmodel.Page
	n := s.nss[ns]
	if n == nil || n.indexes[q.Index] == nil || span.Empty() {
		return page, nil
	}
	keys := n.indexes[q.Index].keys
	lo := sort.SearchStrings(keys, span.Lo)
	hi := len(keys)
	if span.Hi != "" {
		hi = sort.SearchStrings(keys, span.Hi)
	}
	if lo >= hi {
		return page, nil
	}
	keys = keys[lo:hi]
	size := q.PageSize()
	for i := range keys {
		if len(page.Documents) == size {
			page.Next = readmodel.Cursor(pick(keys, i-1, q.Descending))
			break
		}
		key := pick(keys, i, q.Descending)
		id, _ := readmodel.EntryID(key)
		if d, ok := s.lookup(ns, id); ok {
			page.Documents = append(page.Documents, d)
			page.Entries = append(page.Entries, key)
		}
	}
	return page, nil
}

// pick returns the i-th key of keys in ascending or descending order.
func pick(keys []string, i int, desc bool) string {
	if desc {
		return keys[len(keys)-1-i]
	}
	return keys[i]
}

// State implements readmodel.Reader.
func (s *ReadModels) State(ctx context.Context, ns readmodel.Namespace) (readmodel.State, error) {
	if err := ns.Validate(); err != nil {
		return readmodel.State{}, err
	}
	if err := ctx.Err(); err != nil {
		return readmodel.State{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := s.nss[ns]
	if n == nil {
		return readmodel.State{}, nil
	}
	return readmodel.State{Initialized: true, Checkpoint: n.checkpoint}, nil
}
