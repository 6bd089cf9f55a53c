package projection

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

// HandlerFunc applies one event to a read model through tx.
type HandlerFunc func(ctx context.Context, tx *Tx, rec eventstore.Record) error

// Projection is a named read model and the handlers that build it from
// events. Build one with New and On or Handle, then run it with a Runner.
// A Projection must not be changed once a Runner uses it.
type Projection struct {
	name     string
	version  string
	reg      *command.Registry
	handlers map[string]handler
	errs     []error // Handle's refusals, reported by Err
}

// handler is what On or Handle registered for an event type.
type handler struct {
	fn HandlerFunc // On's; nil for Handle's
	// decode and typed are Handle's: decode turns an event's data into a
	// pointer to the handler's event type, which the Runner may call
	// ahead, while the batch before is applied; typed runs the handler
	// on it.
	decode func(rec eventstore.Record) (any, error)
	typed  func(ctx context.Context, tx *Tx, rec eventstore.Record, event any) error
}

// run applies rec; event is rec decoded ahead by h.decode, or nil to
// decode it now.
func (h handler) run(ctx context.Context, tx *Tx, rec eventstore.Record, event any) error {
	if h.fn != nil {
		return h.fn(ctx, tx, rec)
	}
	if event == nil {
		var err error
		if event, err = h.decode(rec); err != nil {
			return err
		}
	}
	return h.typed(ctx, tx, rec, event)
}

// New returns a projection named name whose read model is at version.
// Changing version (for example from "1" to "2") makes a Runner build the
// read model afresh beside the one being served and switch readers over
// when it has caught up; see Runner.
//
// reg is the event registry the command side encodes events with. Typed
// handlers ([Handle]) decode through it, so a projection reads each event
// as the deciders do: the same type names, the same upcasters, the same
// codec (crypto-shredding included). reg may be nil for a projection that
// registers only raw handlers ([Projection.On]).
func New(name, version string, reg *command.Registry) *Projection {
	return &Projection{name: name, version: version, reg: reg, handlers: map[string]handler{}}
}

// Name returns the projection's name.
func (p *Projection) Name() string { return p.name }

// Version returns the read model's version.
func (p *Projection) Version() string { return p.version }

// Registry returns the event registry the projection decodes with, or nil.
func (p *Projection) Registry() *command.Registry { return p.reg }

// Err reports what Handle refused: an event type that is not in the
// registry, or a projection without one. NewRunner
// fails with it, so a projection that cannot decode what it claims to
// handle never runs.
func (p *Projection) Err() error { return errors.Join(p.errs...) }

// On registers fn for events of type eventType, replacing any earlier one.
func (p *Projection) On(eventType string, fn HandlerFunc) *Projection {
	p.handlers[eventType] = handler{fn: fn}
	return p
}

// Handle registers fn for the events whose Go type is E. The stored type
// name comes from the projection's registry (see New), and each event is
// decoded by it: older schema versions go through the registered
// upcasters, and the registry's codec reads the data, so the projection
// sees exactly the value a decider would. E must be registered; if it is
// not, or the projection has no registry, Handle records the error and the projection's Runner refuses to start
// ([Projection.Err]).
//
// A decoding failure is a handler error (and so, after retries, faults the
// projection), never a silent skip. While it catches up, a Runner decodes
// the events of the next batch as it reads them, in parallel with applying
// the current batch; fn gets a freshly decoded E either way, which it may
// keep or change.
func Handle[E any](p *Projection, fn func(ctx context.Context, tx *Tx, rec eventstore.Record, event E) error) {
	goType := reflect.TypeFor[E]()
	if p.reg == nil {
		p.errs = append(p.errs, fmt.Errorf("projection %s: Handle for %s needs the event registry; pass it to projection.New", p.name, goType))
		return
	}
	var zero E
	name, err := p.reg.Name(zero)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("projection %s: Handle: %w", p.name, err))
		return
	}
	reg := p.reg
	p.handlers[name] = handler{
		decode: func(rec eventstore.Record) (any, error) {
			v, err := reg.Decode(rec)
			if err != nil {
				return nil, fmt.Errorf("projection: decode event %s: %w", rec.ID, err)
			}
			e, ok := v.(E)
			if !ok {
				return nil, fmt.Errorf("projection: event %s of type %q decodes to %T, not %s", rec.ID, rec.Type, v, goType)
			}
			return &e, nil
		},
		typed: func(ctx context.Context, tx *Tx, rec eventstore.Record, event any) error {
			return fn(ctx, tx, rec, *event.(*E))
		},
	}
}

// EventTypes returns the event types the projection handles, sorted.
func (p *Projection) EventTypes() []string {
	types := make([]string, 0, len(p.handlers))
	for t := range p.handlers {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// Namespace returns the namespace of the projection's documents for a
// tenant ("" for none).
func (p *Projection) Namespace(tenant string) readmodel.Namespace {
	return readmodel.Namespace{Projection: p.name, Version: p.version, Tenant: tenant}
}

// Tx collects the read-model writes of a batch of events. Handlers read
// documents through it, seeing the writes of earlier events of the same
// batch, and write through it; the Runner commits the whole batch, with the
// projection's checkpoint, in one atomic Apply. Every write carries the
// position of the event being handled as its revision, so replaying an event
// never moves a document backwards.
type Tx struct {
	reader  readmodel.Reader
	ns      readmodel.Namespace
	rev     readmodel.Revision
	pending map[string]int // document ID to index in writes
	writes  []readmodel.Write
	// fetched holds documents read ahead for the batch in one round trip;
	// a nil value records that the document does not exist.
	fetched map[string]*readmodel.Document
	// ahead lists the documents to read ahead for the batch. It is called
	// at the batch's first read that misses, so a batch whose handlers only
	// write costs no read; nil once called.
	ahead func() []string
	// err records a write the Tx refused; the handler then fails.
	err error
	// partitions and partition, in a spread read model, restrict writes
	// to the documents of the Runner's partition; partitions is 0
	// otherwise.
	partitions, partition int
	// behind is the batch before, whose commit is in flight: its writes
	// are what the store will hold once it lands (pipeline.go).
	behind *flight
}

// reservedID reports whether id names one of the Runner's own documents,
// which handlers may not write.
func reservedID(id string) bool { return wire.Reserved(id) }

// takeErr returns and clears the refused write's error.
func (tx *Tx) takeErr() error {
	err := tx.err
	tx.err = nil
	return err
}

func newTx(r readmodel.Reader, ns readmodel.Namespace) *Tx {
	return &Tx{reader: r, ns: ns, pending: map[string]int{}}
}

// Namespace returns the namespace the batch writes to.
func (tx *Tx) Namespace() readmodel.Namespace { return tx.ns }

// Get returns document id as the batch sees it: its pending write if an
// earlier event of the batch wrote it, otherwise the stored document. A
// missing or deleted document returns ok false.
func (tx *Tx) Get(ctx context.Context, id string) (doc readmodel.Document, ok bool, err error) {
	if i, found := tx.pending[id]; found {
		w := tx.writes[i]
		if w.Delete {
			return readmodel.Document{}, false, nil
		}
		return readmodel.Document{ID: id, Data: slices.Clone(w.Data), Revision: w.Revision}, true, nil
	}
	if w, found := tx.behind.write(id); found {
		if w.Delete {
			return readmodel.Document{}, false, nil
		}
		return readmodel.Document{ID: id, Data: slices.Clone(w.Data), Revision: w.Revision}, true, nil
	}
	if tx.ahead != nil {
		ids := tx.ahead()
		tx.ahead = nil
		if tx.prefetch(ctx, ids) != nil {
			// Reading ahead is an optimisation: read what is asked for.
			clear(tx.fetched)
		}
	}
	if d, found := tx.fetched[id]; found {
		if d == nil {
			return readmodel.Document{}, false, nil
		}
		return readmodel.Document{ID: d.ID, Data: slices.Clone(d.Data), Revision: d.Revision}, true, nil
	}
	doc, err = tx.reader.Get(ctx, tx.ns, id)
	if err != nil {
		if errors.Is(err, readmodel.ErrNotFound) {
			return readmodel.Document{}, false, nil
		}
		return readmodel.Document{}, false, err
	}
	return doc, true, nil
}

// Put stores data as document id with its index entries. IDs starting with
// "$checkpoint/" or "$caught-up/" belong to the Runner: writing one fails
// the handler.
func (tx *Tx) Put(id string, data []byte, entries ...readmodel.Entry) {
	tx.set(readmodel.Write{ID: id, Revision: tx.rev, Data: slices.Clone(data), Entries: slices.Clone(entries)})
}

// Delete deletes document id.
func (tx *Tx) Delete(id string) {
	tx.set(readmodel.Write{ID: id, Revision: tx.rev, Delete: true})
}

// PutWrite adds a write built elsewhere, for example by readmodel.Model.Put.
// Its revision is replaced by the current event's position.
func (tx *Tx) PutWrite(w readmodel.Write) {
	w.Revision = tx.rev
	tx.set(w)
}

// Revision returns the revision writes of the current event carry.
func (tx *Tx) Revision() readmodel.Revision { return tx.rev }

// set keeps one write per document: the last one, which already includes
// the effect of the earlier ones, at the latest revision.
func (tx *Tx) set(w readmodel.Write) {
	if reservedID(w.ID) {
		if tx.err == nil {
			tx.err = fmt.Errorf("projection: document ID %q is reserved for the projection's own checkpoints", w.ID)
		}
		return
	}
	if k := readmodel.PartitionOf(w.ID, tx.partitions); tx.partitions > 0 && k != tx.partition {
		if tx.err == nil {
			tx.err = fmt.Errorf("projection: document %q belongs to partition %d of the spread read model, not to partition %d, which applies this event", w.ID, k, tx.partition)
		}
		return
	}
	if i, ok := tx.pending[w.ID]; ok {
		tx.writes[i] = w
		return
	}
	tx.pending[w.ID] = len(tx.writes)
	tx.writes = append(tx.writes, w)
}

func (tx *Tx) reset() {
	tx.err = nil
	tx.ahead = nil
	clear(tx.pending)
	clear(tx.fetched)
	tx.writes = tx.writes[:0]
}

// prefetch reads ids in one round trip so that handlers' Gets of them cost
// nothing.
func (tx *Tx) prefetch(ctx context.Context, ids []string) error {
	if tx.behind != nil {
		// The batch in flight decides those.
		ids = slices.DeleteFunc(ids, func(id string) bool { _, found := tx.behind.write(id); return found })
	}
	if len(ids) == 0 {
		return nil
	}
	docs, err := tx.reader.GetMany(ctx, tx.ns, ids)
	if err != nil {
		return err
	}
	if tx.fetched == nil {
		tx.fetched = make(map[string]*readmodel.Document, len(ids))
	}
	for _, id := range ids {
		tx.fetched[id] = nil
	}
	for i := range docs {
		tx.fetched[docs[i].ID] = &docs[i]
	}
	return nil
}

// Load decodes document id of model m as the batch sees it.
func Load[T any](ctx context.Context, tx *Tx, m readmodel.Model[T], id string) (doc T, ok bool, err error) {
	d, ok, err := tx.Get(ctx, id)
	if err != nil || !ok {
		return doc, ok, err
	}
	doc, err = m.Decode(d)
	return doc, err == nil, err
}

// Store writes doc as document id of model m, with its index entries.
func Store[T any](tx *Tx, m readmodel.Model[T], id string, doc T) error {
	w, err := m.Put(id, readmodel.Revision{Sequence: 1}, doc)
	if err != nil {
		return err
	}
	tx.PutWrite(w)
	return nil
}
