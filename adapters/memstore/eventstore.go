package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

var (
	_ eventstore.OutcomeStore = (*Store)(nil)
	_ eventstore.HeadReader   = (*Store)(nil)
	_ eventstore.Notifier     = (*Store)(nil)
)

// Options configures a Store. A nil *Options means all defaults.
type Options struct {
	// MaxDataBytes limits one event's data. Zero means
	// eventstore.DefaultMaxDataBytes.
	MaxDataBytes int
	// Now returns the time recorded on appended events. Nil means time.Now.
	Now func() time.Time
}

// Store is an in-memory eventstore.Store. The value New returns is the
// default tenant; ForTenant and AllTenants return views of the same events
// (see the eventstore package doc on tenants).
type Store struct {
	*core
	tenant string
	all    bool // the AllTenants view: reads the whole log, appends nothing
}

// core is what every view of one Store shares.
type core struct {
	opts Options

	mu      sync.RWMutex
	log     []eventstore.Record       // the global log, in position order
	streams map[streamKey][]int       // stream to indexes into log, in version order
	byID    map[string]int            // event ID to index into log
	commits uint64                    // Commit of the last append
	keys    map[streamKey]keyed       // (tenant, command key) to its append's result
	changed chan struct{}             // closed and replaced on every append
	life    map[streamKey]*streamLife // streams deleted or truncated
	gone    map[int]bool              // indexes into log of removed events
	archive map[streamKey][]int       // archived streams' events, indexes into log
}

// streamKey names a stream, or a command key, within its tenant.
type streamKey struct{ tenant, id string }

// New returns an empty Store.
func New(opts *Options) *Store {
	c := &core{
		streams: make(map[streamKey][]int),
		byID:    make(map[string]int),
		keys:    make(map[streamKey]keyed),
		changed: make(chan struct{}),
		life:    make(map[streamKey]*streamLife),
		gone:    make(map[int]bool),
		archive: make(map[streamKey][]int),
	}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	return &Store{core: c}
}

// ForTenant returns a view of the store confined to tenant: its appends,
// reads, command keys and ReadAll see only that tenant's streams. It fails
// with an error matching eventstore.ErrInvalidInput when tenant is not a
// valid tenant ID (eventstore.ValidateTenant).
func (s *Store) ForTenant(tenant string) (*Store, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	return &Store{core: s.core, tenant: tenant}, nil
}

// AllTenants returns the reader of every tenant's events.
func (s *Store) AllTenants() *AllTenantsReader {
	return &AllTenantsReader{s: &Store{core: s.core, all: true}}
}

// AllTenantsReader reads every tenant's events in one global log, for a
// relay, an admin tool or a projection serving all tenants: ReadAll, Head
// and Changed cover the whole log and Record.Tenant names each event's
// tenant. It cannot append or read a stream, as a stream belongs to one
// tenant.
type AllTenantsReader struct {
	s *Store // the store's view with all set
}

var (
	_ eventstore.LogReader      = (*AllTenantsReader)(nil)
	_ eventstore.HeadReader     = (*AllTenantsReader)(nil)
	_ eventstore.Notifier       = (*AllTenantsReader)(nil)
	_ eventstore.AllTenantsView = (*AllTenantsReader)(nil)
	_ eventstore.FilteredReader = (*AllTenantsReader)(nil)
)

// ReadAll implements eventstore.LogReader.
func (r *AllTenantsReader) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	return r.s.ReadAll(ctx, after, limit)
}

// ReadAllFiltered implements eventstore.FilteredReader over every
// tenant's events.
func (r *AllTenantsReader) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	return r.s.ReadAllFiltered(ctx, after, f, limit)
}

// Head returns the position of the last event of any tenant.
func (r *AllTenantsReader) Head(ctx context.Context) (eventstore.Position, error) {
	return r.s.Head(ctx)
}

// Changed returns a channel that is closed at the next append of any
// tenant.
func (r *AllTenantsReader) Changed() <-chan struct{} { return r.s.Changed() }

// ReadsAllTenants implements eventstore.AllTenantsView: always true.
func (r *AllTenantsReader) ReadsAllTenants() bool { return true }

// Tenant returns the tenant the view is confined to: "" for the default
// tenant.
func (s *Store) Tenant() string { return s.tenant }

// StoreForTenant implements eventstore.TenantScoper: ForTenant as an
// eventstore.Store, so that decorators can keep tenant views.
func (s *Store) StoreForTenant(tenant string) (eventstore.Store, error) {
	v, err := s.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// StoreForAllTenants implements eventstore.TenantScoper: AllTenants as an
// eventstore.LogReader.
func (s *Store) StoreForAllTenants() eventstore.LogReader { return s.AllTenants() }

var _ eventstore.TenantScoper = (*Store)(nil)

var errAllTenants = &eventstore.InvalidInputError{Field: "tenant",
	Reason: "the all-tenants view only reads the global log; use ForTenant to append or read a stream"}

// keyed is what the store keeps of a command key: its first outcome.
type keyed struct {
	record eventstore.KeyRecord
	at     time.Time
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	rec, err := s.append(ctx, eventstore.CommandKey{}, streamID, expected, events)
	return rec.Result, err
}

// AppendKeyed implements eventstore.KeyedAppender. Keys are kept until
// PruneCommandKeys removes them. A key that holds a refusal fails with an
// error matching eventstore.ErrKeyRefused.
func (s *Store) AppendKeyed(ctx context.Context, commandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	rec, err := s.append(ctx, eventstore.CommandKey{Key: commandKey}, streamID, expected, events)
	if err == nil && rec.Refusal != nil {
		return eventstore.AppendResult{}, fmt.Errorf("memstore: command key %q: %w", commandKey, eventstore.ErrKeyRefused)
	}
	return rec.Result, err
}

// AppendCommand implements eventstore.OutcomeStore.
func (s *Store) AppendCommand(ctx context.Context, key eventstore.CommandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.KeyRecord, error) {
	if err := eventstore.ValidateCommandKey(key, nil); err != nil {
		return eventstore.KeyRecord{}, err
	}
	return s.append(ctx, key, streamID, expected, events)
}

// RecordRefusal implements eventstore.OutcomeStore.
func (s *Store) RecordRefusal(ctx context.Context, key eventstore.CommandKey, streamID string, refusal eventstore.Refusal) (eventstore.KeyRecord, error) {
	if err := eventstore.ValidateCommandKey(key, &refusal); err != nil {
		return eventstore.KeyRecord{}, err
	}
	if err := eventstore.ValidateStreamID(streamID); err != nil {
		return eventstore.KeyRecord{}, err
	}
	if s.all {
		return eventstore.KeyRecord{}, errAllTenants
	}
	if err := ctx.Err(); err != nil {
		return eventstore.KeyRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.recorded(key); ok {
		return rec, rec.Check(key)
	}
	rec := eventstore.KeyRecord{Hash: key.Hash, Refusal: &refusal}
	s.keys[streamKey{s.tenant, key.Key}] = keyed{record: rec, at: s.opts.Now().UTC()}
	return rec, nil
}

// LookupKey implements eventstore.OutcomeStore.
func (s *Store) LookupKey(ctx context.Context, key string) (eventstore.KeyRecord, bool, error) {
	if err := eventstore.ValidateCommandKey(eventstore.CommandKey{Key: key}, nil); err != nil {
		return eventstore.KeyRecord{}, false, err
	}
	if s.all {
		return eventstore.KeyRecord{}, false, errAllTenants
	}
	if err := ctx.Err(); err != nil {
		return eventstore.KeyRecord{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.recorded(eventstore.CommandKey{Key: key})
	return rec, ok, nil
}

// recorded returns the record of key in the view's tenant, as a replay.
// The caller holds mu.
func (s *Store) recorded(key eventstore.CommandKey) (eventstore.KeyRecord, bool) {
	k, ok := s.keys[streamKey{s.tenant, key.Key}]
	if !ok || key.Key == "" {
		return eventstore.KeyRecord{}, false
	}
	rec := k.record
	if rec.Refusal != nil {
		r := *rec.Refusal
		rec.Refusal = &r
	}
	rec.Result.Replayed = true
	return rec, true
}

// append appends events, recording key with them unless key.Key is empty.
// A recorded key stores nothing and returns its record.
func (s *Store) append(ctx context.Context, key eventstore.CommandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.KeyRecord, error) {
	if len(key.Key) > eventstore.MaxStreamIDBytes {
		return eventstore.KeyRecord{}, &eventstore.InvalidInputError{Field: "command key", Reason: "is longer than 512 bytes"}
	}
	if err := eventstore.ValidateAppend(streamID, expected, events, s.opts.MaxDataBytes); err != nil {
		return eventstore.KeyRecord{}, err
	}
	if s.all {
		return eventstore.KeyRecord{}, errAllTenants
	}
	if err := ctx.Err(); err != nil {
		return eventstore.KeyRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	if rec, ok := s.recorded(key); ok {
		return rec, rec.Check(key)
	}
	sk := streamKey{s.tenant, streamID}
	if err := s.life[sk].sealed(streamID); err != nil {
		return eventstore.KeyRecord{}, err
	}
	if res, ok, err := s.replayed(streamID, events); ok || err != nil {
		return eventstore.KeyRecord{Result: res}, err
	}
	stream := s.streams[sk]
	actual := int64(len(stream))
	if !expected.AllowsLifecycle(actual, actual >= s.life[sk].first()) {
		return eventstore.KeyRecord{}, &eventstore.ConcurrencyError{StreamID: streamID, Expected: expected, Actual: actual}
	}
	now := s.opts.Now().UTC()
	s.streams[sk] = s.store(streamID, stream, actual, events, now)
	close(s.changed)
	s.changed = make(chan struct{})
	last := s.log[len(s.log)-1]
	rec := eventstore.KeyRecord{Hash: key.Hash, Result: eventstore.AppendResult{StreamVersion: last.Version, Position: last.Position}}
	if key.Key != "" {
		s.keys[streamKey{s.tenant, key.Key}] = keyed{record: rec, at: now}
	}
	return rec, nil
}

// store adds events to the log as one commit after the actual events of
// stream and returns the stream's new index list. The caller holds mu.
func (s *Store) store(streamID string, stream []int, actual int64, events []eventstore.Event, now time.Time) []int {
	s.commits++
	for i, e := range events {
		id := strings.ToLower(e.ID)
		if id == "" {
			id = eventstore.NewEventID()
		}
		rec := eventstore.Record{
			ID:          id,
			Tenant:      s.tenant,
			StreamID:    streamID,
			Type:        e.Type,
			Data:        slices.Clone(e.Data),
			ContentType: contentType(e.ContentType),
			Metadata:    cloneMetadata(e.Metadata),
			Version:     actual + int64(i) + 1,
			Position:    eventstore.Position{Commit: s.commits, Sequence: uint64(len(s.log)) + 1},
			RecordedAt:  now,
		}
		s.byID[id] = len(s.log)
		stream = append(stream, len(s.log))
		s.log = append(s.log, rec)
	}
	return stream
}

// PruneCommandKeys forgets command keys recorded before cutoff and reports
// how many it removed: the view's tenant's keys, or every tenant's on the
// AllTenants view.
func (s *Store) PruneCommandKeys(ctx context.Context, cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.keys {
		if (s.all || k.tenant == s.tenant) && v.at.Before(cutoff) {
			delete(s.keys, k)
			n++
		}
	}
	return n, ctx.Err()
}

// replayed reports whether events were stored before by the same append and,
// if so, that append's result. Any other reuse of an ID is an error.
func (s *Store) replayed(streamID string, events []eventstore.Event) (eventstore.AppendResult, bool, error) {
	first := strings.ToLower(events[0].ID)
	idx, found := s.byID[first]
	if !found {
		for _, e := range events[1:] {
			if _, dup := s.byID[strings.ToLower(e.ID)]; dup && e.ID != "" {
				return eventstore.AppendResult{}, false, duplicate(e.ID)
			}
		}
		return eventstore.AppendResult{}, false, nil
	}
	rec := s.log[idx]
	stream := s.streams[streamKey{s.tenant, streamID}]
	if rec.Tenant != s.tenant || rec.StreamID != streamID || int(rec.Version)+len(events)-1 > len(stream) {
		return eventstore.AppendResult{}, false, duplicate(first)
	}
	for i, e := range events {
		if s.log[stream[int(rec.Version)-1+i]].ID != strings.ToLower(e.ID) {
			return eventstore.AppendResult{}, false, duplicate(first)
		}
	}
	last := s.log[stream[int(rec.Version)+len(events)-2]]
	return eventstore.AppendResult{StreamVersion: last.Version, Position: last.Position, Replayed: true}, true, nil
}

func duplicate(id string) error {
	return &duplicateError{id: id}
}

type duplicateError struct{ id string }

func (e *duplicateError) Error() string {
	return "memstore: event ID " + e.id + " is already stored by a different append"
}
func (e *duplicateError) Is(target error) bool { return target == eventstore.ErrDuplicateEvent }

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, streamID string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	if err := eventstore.ValidateStreamID(streamID); err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, &eventstore.InvalidInputError{Field: "limit", Reason: "must not be negative"}
	}
	if s.all {
		return nil, errAllTenants
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sk := streamKey{s.tenant, streamID}
	stream := s.streams[sk]
	if err := s.life[sk].sealed(streamID); err != nil {
		return nil, err
	}
	if int64(len(stream)) < s.life[sk].first() {
		return nil, eventstore.ErrStreamNotFound
	}
	first := s.readable(sk, stream)
	var out []eventstore.Record
	if dir == eventstore.Backward {
		for v := min(from, int64(len(stream))); v >= first && (limit == 0 || len(out) < limit); v-- {
			if !s.gone[stream[v-1]] {
				out = append(out, cloneRecord(s.log[stream[v-1]]))
			}
		}
		return out, nil
	}
	for v := max(from, first); v <= int64(len(stream)) && (limit == 0 || len(out) < limit); v++ {
		if s.gone[stream[v-1]] {
			continue // reclaimed
		}
		out = append(out, cloneRecord(s.log[stream[v-1]]))
	}
	return out, nil
}

// DefaultReadAllLimit is the batch size ReadAll uses when asked for 0 events.
const DefaultReadAllLimit = 1000

// ReadAll implements eventstore.Store. Appends are serialised, so every
// stored event is visible at once and the log never has holes. A tenant's
// view returns that tenant's events only; the AllTenants view returns all.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	page, err := s.scan(ctx, after, eventstore.Filter{}, limit)
	return page.Records, err
}

// ReadAllFiltered implements eventstore.FilteredReader. Every stored event
// is visible, so a page that is not full has scanned to the view's last
// event, and Through is that event's position.
func (s *Store) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	return s.scan(ctx, after, f, limit)
}

var _ eventstore.FilteredReader = (*Store)(nil)

// scan reads the view's events after after that match f.
func (s *Store) scan(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	page := eventstore.FilteredPage{Through: after}
	if limit < 0 {
		return page, &eventstore.InvalidInputError{Field: "limit", Reason: "must not be negative"}
	}
	if limit == 0 {
		limit = DefaultReadAllLimit
	}
	if err := ctx.Err(); err != nil {
		return page, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	start, _ := slices.BinarySearchFunc(s.log, after, func(r eventstore.Record, p eventstore.Position) int {
		return r.Position.Compare(p)
	})
	if start < len(s.log) && s.log[start].Position == after {
		start++
	}
	for i, r := range s.log[start:] {
		if len(page.Records) == limit {
			break
		}
		if s.gone[start+i] || (!s.all && r.Tenant != s.tenant) {
			continue
		}
		page.Through = r.Position
		if f.Matches(r) {
			page.Records = append(page.Records, cloneRecord(r))
		}
	}
	return page, nil
}

// Head returns the position of the view's last event, or the zero Position
// when it has none, so projections over a memstore report their lag.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.log) - 1; i >= 0; i-- {
		if !s.gone[i] && (s.all || s.log[i].Tenant == s.tenant) {
			return s.log[i].Position, ctx.Err()
		}
	}
	return eventstore.Position{}, ctx.Err()
}

// Changed returns a channel that is closed at the next append. Tailers use
// it to wake up without polling.
func (s *Store) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

func contentType(ct string) string {
	if ct == "" {
		return eventstore.ContentTypeJSON
	}
	return ct
}

func cloneMetadata(m eventstore.Metadata) eventstore.Metadata {
	m.Extra = cloneMap(m.Extra)
	return m
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneRecord(r eventstore.Record) eventstore.Record {
	r.Data = slices.Clone(r.Data)
	r.Metadata = cloneMetadata(r.Metadata)
	return r
}
