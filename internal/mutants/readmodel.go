package mutants

import (
	"context"
	"encoding/base64"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eventfold/eventfold/readmodel"
)

// The read-model mutants are a copy of memstore's ReadModels, as most of
// their bugs are inside Apply and Query.
var readModelBugs = []bug{
	{name: "checkpoint-after-docs", breaks: "Apply writes the checkpoint after the documents, not with them"},
	{name: "half-batch", breaks: "Apply makes each write visible on its own"},
	{name: "refused-moves-checkpoint", breaks: "a batch refused for its IfCheckpoint still stores its checkpoint"},
	{name: "paging-skips-ties", breaks: "a cursor continues after the last value, skipping its other documents"},
	{name: "cursor-skips-nul-suffix", breaks: "a cursor continues after last+\"\\x01\", skipping the ID last+\"\\x00\""},
	{name: "drop-leaves-index", breaks: "Drop leaves the index entries, which a rebuild finds again"},
	{name: "unlocked-get", breaks: "Get reads without the lock", needsRace: true},
	{name: "same-revision-overwrites", breaks: "a write with the stored revision replaces the document"},
	{name: "ignore-if-checkpoint", breaks: "IfCheckpoint is not checked"},
	{name: "tenant-ignored", breaks: "namespaces of different tenants share documents"},
	{name: "retain-data", breaks: "Apply keeps the caller's Data slice"},
	{name: "return-internal", breaks: "Get returns the stored Data slice"},
	{name: "delete-keeps-entries", breaks: "a delete leaves the document's index entries"},
	{name: "getmany-dedups", breaks: "GetMany returns an ID listed twice once"},
	{name: "stale-batch-no-checkpoint", breaks: "a batch whose writes are all stale does not store its checkpoint"},
}

var _ readmodel.Store = (*ReadModels)(nil)

// ReadModels is a copy of memstore's in-memory readmodel.Store with one
// bug switched on.
type ReadModels struct {
	bug   string
	mu    sync.RWMutex
	nss   map[readmodel.Namespace]*rmNamespace
	ghost map[readmodel.Namespace]map[string]*rmIndex // indexes a Drop left
}

func newReadModels(name string) *ReadModels {
	return &ReadModels{bug: strings.TrimPrefix(name, "readmodel/"), nss: make(map[readmodel.Namespace]*rmNamespace),
		ghost: make(map[readmodel.Namespace]map[string]*rmIndex)}
}

// key returns the map key of ns.
func (s *ReadModels) key(ns readmodel.Namespace) readmodel.Namespace {
	if s.bug == "tenant-ignored" {
		ns.Tenant = ""
	}
	return ns
}

// pause lets readers in between two parts of a batch.
func (s *ReadModels) pause() {
	s.mu.Unlock()
	time.Sleep(50 * time.Microsecond)
	s.mu.Lock()
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
	ns = s.key(ns)
	n := s.nss[ns]
	if b.IfCheckpoint != nil && s.bug != "ignore-if-checkpoint" {
		stored := ""
		if n != nil {
			stored = n.checkpoint
		}
		if stored != *b.IfCheckpoint {
			if s.bug == "refused-moves-checkpoint" && n != nil && b.Checkpoint != "" {
				n.checkpoint = b.Checkpoint
			}
			return readmodel.Result{}, readmodel.ErrCheckpointMismatch
		}
	}
	if n == nil {
		n = &rmNamespace{docs: make(map[string]*rmDoc), indexes: make(map[string]*rmIndex)}
		if g := s.ghost[ns]; g != nil {
			n.indexes = g
		}
		s.nss[ns] = n
	}
	var res readmodel.Result
	for i, w := range b.Writes {
		if i > 0 && s.bug == "half-batch" {
			s.pause()
		}
		old := n.docs[w.ID]
		newest := 0
		if s.bug == "same-revision-overwrites" {
			newest = 1
		}
		if old != nil && old.rev.Compare(w.Revision) >= newest {
			res.Stale = append(res.Stale, i)
			continue
		}
		n.docs[w.ID] = s.write(n, old, w)
		res.Applied++
	}
	if s.bug == "checkpoint-after-docs" {
		s.pause()
	}
	if b.Checkpoint != "" && !(s.bug == "stale-batch-no-checkpoint" && res.Applied == 0 && len(b.Writes) > 0) {
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
	ns = s.key(ns)
	if n := s.nss[ns]; n != nil && s.bug == "drop-leaves-index" {
		s.ghost[ns] = n.indexes
	}
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
	if s.bug != "unlocked-get" {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	if d, ok := s.lookup(ns, id); ok {
		return d, nil
	}
	return readmodel.Document{}, readmodel.ErrNotFound
}

// lookup returns a copy of a live document. The caller holds s.mu.
func (s *ReadModels) lookup(ns readmodel.Namespace, id string) (readmodel.Document, bool) {
	n := s.nss[s.key(ns)]
	if n == nil {
		return readmodel.Document{}, false
	}
	d := n.docs[id]
	if d == nil || d.deleted {
		return readmodel.Document{}, false
	}
	if s.bug == "return-internal" {
		return readmodel.Document{ID: id, Data: d.data, Revision: d.rev}, true
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
	for i, id := range ids {
		if s.bug == "getmany-dedups" && slices.Contains(ids[:i], id) {
			continue
		}
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
	if !q.Descending {
		span.Lo = s.resume(q.Cursor, span.Lo)
	}
	if err := ctx.Err(); err != nil {
		return readmodel.Page{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var page readmodel.Page
	n := s.nss[s.key(ns)]
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
	n := s.nss[s.key(ns)]
	if n == nil {
		return readmodel.State{}, nil
	}
	return readmodel.State{Initialized: true, Checkpoint: n.checkpoint}, nil
}

// resume returns where an ascending query continues after cursor: lo, as
// Span computed it, unless a paging bug moves it further.
func (s *ReadModels) resume(cursor, lo string) string {
	if cursor == "" || (s.bug != "paging-skips-ties" && s.bug != "cursor-skips-nul-suffix") {
		return lo
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cursor, "c"))
	if err != nil {
		return lo
	}
	last := string(b)
	if s.bug == "cursor-skips-nul-suffix" {
		return last + "\x01"
	}
	id, _ := readmodel.EntryID(last)
	value := []byte(last[:len(last)-len(id)])
	for i := len(value) - 1; i >= 0; i-- {
		if value[i] != 0xff {
			value[i]++
			return string(value[:i+1])
		}
	}
	return lo
}

// write replaces the document old (nil if none) of n with w's and moves
// its index entries. The caller holds s.mu.
func (s *ReadModels) write(n *rmNamespace, old *rmDoc, w readmodel.Write) *rmDoc {
	if old != nil && !(w.Delete && s.bug == "delete-keeps-entries") {
		for _, e := range old.entries {
			if ix := n.indexes[e.Index]; ix != nil {
				ix.remove(readmodel.EntryKey(e.Value, w.ID))
			}
		}
	}
	d := &rmDoc{rev: w.Revision, deleted: w.Delete}
	if !w.Delete {
		d.data = append([]byte{}, w.Data...)
		if s.bug == "retain-data" {
			d.data = w.Data
		}
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
	return d
}
