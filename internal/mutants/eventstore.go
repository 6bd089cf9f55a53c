package mutants

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/eventstore"
)

var eventStoreBugs = []bug{
	{name: "gap-two-phase", breaks: "commits become visible out of order and ReadAll skips the unfinished ones"},
	{name: "split-batch-any", breaks: "an Append with Any stores its events one at a time"},
	{name: "unlocked-reads", breaks: "ReadStream reads a copy of the streams without the lock", needsRace: true},
	{name: "retain-data", breaks: "keeps the caller's Data slice"},
	{name: "retain-extra", breaks: "keeps the caller's Metadata.Extra map"},
	{name: "shared-data", breaks: "hands every reader the same Data slice"},
	{name: "shared-extra", breaks: "hands every reader the same Metadata.Extra map"},
	{name: "upper-verbatim", breaks: "stores upper-case event IDs verbatim"},
	{name: "upper-returned", breaks: "returns event IDs in the case they were given"},
	{name: "tenant-fallback", breaks: "a tenant's ReadStream falls back to the default tenant's stream"},
	{name: "scoper-default", breaks: "StoreForTenant returns the default tenant's view"},
	{name: "scoper-all-default", breaks: "StoreForAllTenants returns the default tenant's view"},
	{name: "hidden-tenants", breaks: "has tenant views the suite is not told about", undeclared: "Tenants"},
	{name: "hidden-keyed", breaks: "has command keys the suite is not told about", undeclared: "Keyed"},
	{name: "hidden-outcomes", breaks: "keeps command outcomes the suite is not told about", undeclared: "Outcomes"},
	{name: "hidden-head", breaks: "has a head the suite is not told about", undeclared: "Head"},
	{name: "hidden-notify", breaks: "notifies tailers and the suite is not told", undeclared: "Notify"},
	{name: "readall-repeats-after", breaks: "ReadAll returns the event at after again"},
	{name: "readall-unknown-from-start", breaks: "ReadAll after a position no event holds reads from the start"},
	{name: "readall-beyond-head-from-start", breaks: "ReadAll after the head reads from the start"},
	{name: "readall-before-first-empty", breaks: "ReadAll after a position before the first event returns nothing"},
	{name: "readall-page-skips", breaks: "ReadAll with a limit skips the first event of each page"},
	{name: "readall-over-limit", breaks: "ReadAll returns one event more than the limit"},
	{name: "tenant-readall-leaks", breaks: "a tenant's ReadAll returns every tenant's events"},
	{name: "keyed-ignores-key", breaks: "AppendKeyed ignores the command key"},
	{name: "exact-as-any", breaks: "an exact expected version is not checked"},
	{name: "cancel-ignored", breaks: "Append ignores a cancelled context"},
	{name: "missing-stream-empty", breaks: "ReadStream of a missing stream returns no records and no error"},
	{name: "head-global", breaks: "a tenant's Head is the head of every tenant"},
	{name: "lookup-default-tenant", breaks: "a tenant's LookupKey looks in the default tenant"},
	{name: "filtered-through-to-head", breaks: "ReadAllFiltered's Through is the view's last event even when the page is full"},
	{name: "filtered-through-stuck", breaks: "ReadAllFiltered's Through stays at the last record, never moving past other events"},
	{name: "filtered-ignores-prefixes", breaks: "ReadAllFiltered ignores the stream prefixes"},
	{name: "filtered-like-prefixes", breaks: "ReadAllFiltered reads % and _ in a prefix as LIKE's wildcards"},
	{name: "filtered-through-past-unfinished", breaks: "commits become visible out of order and ReadAllFiltered's Through passes the unfinished ones"},
}

// EventStore wraps a memstore.Store and breaks one behaviour.
type EventStore struct {
	*memstore.Store
	bug string
	sh  *shared
}

// shared is the state a bug keeps, shared by every view of one store.
type shared struct {
	mu       sync.Mutex
	hidden   map[uint64]bool                // commits not yet "finished"
	data     map[string][]byte              // retained or handed-out Data
	extra    map[string]map[string]string   // retained or handed-out Extra
	verbatim map[string]string              // upper-case ID as given to the ID stored for it
	given    map[string]string              // stored ID to the ID as given
	mirror   map[string][]eventstore.Record // tenant+stream to records
	root     *memstore.Store                // the default tenant's view
}

func newEventStore(name string) *EventStore {
	root := memstore.New(nil)
	return &EventStore{Store: root, bug: strings.TrimPrefix(name, "eventstore/"), sh: &shared{root: root,
		hidden: map[uint64]bool{}, data: map[string][]byte{}, extra: map[string]map[string]string{},
		verbatim: map[string]string{}, given: map[string]string{}, mirror: map[string][]eventstore.Record{},
	}}
}

func (s *EventStore) view(v *memstore.Store) *EventStore {
	return &EventStore{Store: v, bug: s.bug, sh: s.sh}
}

// ForTenant returns the tenant's view, with the same bug.
func (s *EventStore) ForTenant(tenant string) (*EventStore, error) {
	v, err := s.Store.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return s.view(v), nil
}

// AllTenants returns the reader of every tenant's events, with the same
// bug.
func (s *EventStore) AllTenants() *AllTenantsReader {
	return &AllTenantsReader{r: s.Store.AllTenants(), es: s}
}

// AllTenantsReader wraps a memstore.AllTenantsReader and breaks what its
// store breaks.
type AllTenantsReader struct {
	r  *memstore.AllTenantsReader
	es *EventStore // the store it reads, for its bug and shared state
}

// ReadAll implements eventstore.LogReader.
func (v *AllTenantsReader) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	return v.es.readAll(ctx, v.r, after, limit)
}

// ReadAllFiltered implements eventstore.FilteredReader. The filtered-read
// bugs are the default view's: the suite finds them there.
func (v *AllTenantsReader) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	return v.r.ReadAllFiltered(ctx, after, f, limit)
}

// Head returns the head of every tenant's log.
func (v *AllTenantsReader) Head(ctx context.Context) (eventstore.Position, error) {
	return v.r.Head(ctx)
}

// Changed wakes tailers after an append of any tenant.
func (v *AllTenantsReader) Changed() <-chan struct{} { return v.r.Changed() }

// ReadsAllTenants implements eventstore.AllTenantsView.
func (v *AllTenantsReader) ReadsAllTenants() bool { return true }

// StoreForTenant implements eventstore.TenantScoper.
func (s *EventStore) StoreForTenant(tenant string) (eventstore.Store, error) {
	if s.bug == "scoper-default" {
		if err := eventstore.ValidateTenant(tenant); err != nil {
			return nil, err
		}
		return s, nil
	}
	return s.ForTenant(tenant)
}

// StoreForAllTenants implements eventstore.TenantScoper.
func (s *EventStore) StoreForAllTenants() eventstore.LogReader {
	if s.bug == "scoper-all-default" {
		return s
	}
	return s.AllTenants()
}

// Head returns the view's head.
func (s *EventStore) Head(ctx context.Context) (eventstore.Position, error) {
	if s.bug == "head-global" {
		return s.Store.AllTenants().Head(ctx)
	}
	return s.Store.Head(ctx)
}

// LookupKey implements eventstore.OutcomeStore.
func (s *EventStore) LookupKey(ctx context.Context, key string) (eventstore.KeyRecord, bool, error) {
	if s.bug == "lookup-default-tenant" && s.Tenant() != "" {
		return s.sh.root.LookupKey(ctx, key)
	}
	return s.Store.LookupKey(ctx, key)
}

// AppendKeyed implements eventstore.KeyedAppender.
func (s *EventStore) AppendKeyed(ctx context.Context, commandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	switch s.bug {
	case "keyed-ignores-key":
		return s.Store.Append(ctx, streamID, expected, events)
	case "unlocked-reads":
		s.sh.mu.Lock()
		defer s.sh.mu.Unlock()
		defer s.refreshMirror(ctx, streamID)
	}
	return s.Store.AppendKeyed(ctx, commandKey, streamID, expected, events)
}

// AppendCommand implements eventstore.OutcomeStore.
func (s *EventStore) AppendCommand(ctx context.Context, key eventstore.CommandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.KeyRecord, error) {
	if s.bug == "unlocked-reads" {
		s.sh.mu.Lock()
		defer s.sh.mu.Unlock()
		defer s.refreshMirror(ctx, streamID)
	}
	return s.Store.AppendCommand(ctx, key, streamID, expected, events)
}

// Append implements eventstore.Store.
func (s *EventStore) Append(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	switch s.bug {
	case "gap-two-phase", "filtered-through-past-unfinished":
		return s.appendTwoPhase(ctx, streamID, expected, events)
	case "split-batch-any":
		if expected == eventstore.Any && len(events) > 1 {
			return s.appendSplit(ctx, streamID, events)
		}
	case "unlocked-reads":
		return s.appendMirrored(ctx, streamID, expected, events)
	case "retain-data", "retain-extra", "upper-verbatim", "upper-returned":
		return s.appendRemembering(ctx, streamID, expected, events)
	case "exact-as-any":
		if expected > 0 {
			expected = eventstore.Any
		}
	case "cancel-ignored":
		ctx = context.WithoutCancel(ctx)
	}
	return s.Store.Append(ctx, streamID, expected, events)
}

// appendTwoPhase appends, then keeps the commit hidden for a moment, as a
// store whose transactions finish out of order would.
func (s *EventStore) appendTwoPhase(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	s.sh.mu.Lock()
	res, err := s.Store.Append(ctx, streamID, expected, events)
	if err == nil && !res.Replayed {
		s.sh.hidden[res.Position.Commit] = true
	}
	s.sh.mu.Unlock()
	if err != nil || res.Replayed {
		return res, err
	}
	time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
	s.sh.mu.Lock()
	delete(s.sh.hidden, res.Position.Commit)
	s.sh.mu.Unlock()
	return res, nil
}

// appendSplit stores the events one append each.
func (s *EventStore) appendSplit(ctx context.Context, streamID string, events []eventstore.Event) (eventstore.AppendResult, error) {
	var res eventstore.AppendResult
	for _, e := range events {
		var err error
		if res, err = s.Store.Append(ctx, streamID, eventstore.Any, []eventstore.Event{e}); err != nil {
			return res, err
		}
		time.Sleep(50 * time.Microsecond)
	}
	return res, nil
}

// appendMirrored appends and copies the stream into the mirror that
// ReadStream reads without the lock.
func (s *EventStore) appendMirrored(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	s.sh.mu.Lock()
	defer s.sh.mu.Unlock()
	defer s.refreshMirror(ctx, streamID)
	return s.Store.Append(ctx, streamID, expected, events)
}

// refreshMirror copies the stream's new events into the mirror. The
// caller holds s.sh.mu.
func (s *EventStore) refreshMirror(ctx context.Context, streamID string) {
	recs, err := s.Store.ReadStream(context.WithoutCancel(ctx), streamID, 0, eventstore.Forward, 0)
	if err != nil {
		return
	}
	k := s.Tenant() + "\x00" + streamID
	for _, r := range recs[len(s.sh.mirror[k]):] {
		s.sh.mirror[k] = append(s.sh.mirror[k], r)
	}
}

// appendRemembering appends with IDs it chose and remembers what the bug
// needs of the caller's events.
func (s *EventStore) appendRemembering(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	s.sh.mu.Lock()
	defer s.sh.mu.Unlock()
	given := slices.Clone(events)
	stored := slices.Clone(events)
	for i := range stored {
		switch {
		case stored[i].ID == "":
			stored[i].ID = eventstore.NewEventID()
			given[i].ID = stored[i].ID
		case s.bug == "upper-verbatim" && stored[i].ID != strings.ToLower(stored[i].ID):
			if _, ok := s.sh.verbatim[stored[i].ID]; !ok {
				s.sh.verbatim[stored[i].ID] = eventstore.NewEventID()
			}
			stored[i].ID = s.sh.verbatim[stored[i].ID]
		}
	}
	res, err := s.Store.Append(ctx, streamID, expected, stored)
	if err != nil || res.Replayed {
		return res, err
	}
	for i, e := range given {
		id := strings.ToLower(stored[i].ID)
		s.sh.data[id] = e.Data
		s.sh.extra[id] = e.Metadata.Extra
		s.sh.given[id] = e.ID
	}
	return res, nil
}

// ReadStream implements eventstore.Store.
func (s *EventStore) ReadStream(ctx context.Context, streamID string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	if s.bug == "unlocked-reads" && dir == eventstore.Forward && from <= 1 && limit == 0 && s.Tenant() == "" &&
		eventstore.ValidateStreamID(streamID) == nil && ctx.Err() == nil {
		recs := s.sh.mirror["\x00"+streamID] // no lock: the bug
		if len(recs) == 0 {
			return nil, eventstore.ErrStreamNotFound
		}
		out := make([]eventstore.Record, len(recs))
		for i, r := range recs {
			r.Data = slices.Clone(r.Data)
			r.Metadata.Extra = maps.Clone(r.Metadata.Extra)
			out[i] = r
		}
		return out, nil
	}
	recs, err := s.Store.ReadStream(ctx, streamID, from, dir, limit)
	switch {
	case s.bug == "tenant-fallback" && s.Tenant() != "" && errors.Is(err, eventstore.ErrStreamNotFound):
		return s.sh.root.ReadStream(ctx, streamID, from, dir, limit)
	case s.bug == "missing-stream-empty" && errors.Is(err, eventstore.ErrStreamNotFound):
		return nil, nil
	}
	return s.rewrite(recs), err
}

// rewrite applies the read side of the ownership and ID bugs.
func (s *EventStore) rewrite(recs []eventstore.Record) []eventstore.Record {
	switch s.bug {
	case "retain-data", "retain-extra", "upper-verbatim", "upper-returned", "shared-data", "shared-extra":
	default:
		return recs
	}
	s.sh.mu.Lock()
	defer s.sh.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		switch s.bug {
		case "retain-data":
			if d, ok := s.sh.data[r.ID]; ok {
				r.Data = d
			}
		case "retain-extra":
			if x, ok := s.sh.extra[r.ID]; ok && x != nil {
				r.Metadata.Extra = x
			}
		case "upper-verbatim", "upper-returned":
			if g, ok := s.sh.given[r.ID]; ok {
				r.ID = g
			}
		case "shared-data":
			if d, ok := s.sh.data[r.ID]; ok {
				r.Data = d
			} else {
				s.sh.data[r.ID] = r.Data
			}
		case "shared-extra":
			if x, ok := s.sh.extra[r.ID]; ok {
				r.Metadata.Extra = x
			} else {
				s.sh.extra[r.ID] = r.Metadata.Extra
			}
		}
	}
	return recs
}

// ReadAll implements eventstore.Store.
func (s *EventStore) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	var inner eventstore.LogReader = s.Store
	if s.bug == "tenant-readall-leaks" && s.Tenant() != "" {
		inner = s.sh.root.AllTenants()
	}
	return s.readAll(ctx, inner, after, limit)
}

// readAll reads inner's log with the bug.
func (s *EventStore) readAll(ctx context.Context, inner eventstore.LogReader, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	switch s.bug {
	case "gap-two-phase":
		s.sh.mu.Lock()
		defer s.sh.mu.Unlock()
		recs, err := inner.ReadAll(ctx, after, limit)
		return slices.DeleteFunc(recs, func(r eventstore.Record) bool { return s.sh.hidden[r.Position.Commit] }), err
	case "readall-repeats-after", "readall-unknown-from-start", "readall-beyond-head-from-start", "readall-before-first-empty":
		return s.readAllAround(ctx, inner, after, limit)
	case "readall-page-skips":
		if limit > 0 {
			recs, err := inner.ReadAll(ctx, after, limit+1)
			if len(recs) > 1 {
				recs = recs[1:]
			}
			return recs, err
		}
	case "readall-over-limit":
		if limit > 0 {
			return inner.ReadAll(ctx, after, limit+1)
		}
	}
	recs, err := inner.ReadAll(ctx, after, limit)
	return s.rewrite(recs), err
}

// readAllAround breaks ReadAll at positions: the one at after, or one no
// event holds.
func (s *EventStore) readAllAround(ctx context.Context, inner eventstore.LogReader, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	all, err := inner.ReadAll(ctx, eventstore.Position{}, 0)
	if err != nil || len(all) == 0 || after.IsZero() {
		return inner.ReadAll(ctx, after, limit)
	}
	held := slices.ContainsFunc(all, func(r eventstore.Record) bool { return r.Position == after })
	switch {
	case s.bug == "readall-repeats-after" && held:
		i := slices.IndexFunc(all, func(r eventstore.Record) bool { return r.Position == after })
		rest, err := inner.ReadAll(ctx, after, limit)
		if limit > 0 && len(rest) == limit {
			rest = rest[:limit-1]
		}
		return append([]eventstore.Record{all[i]}, rest...), err
	case s.bug == "readall-unknown-from-start" && !held,
		s.bug == "readall-beyond-head-from-start" && all[len(all)-1].Position.Before(after):
		return inner.ReadAll(ctx, eventstore.Position{}, limit)
	case s.bug == "readall-before-first-empty" && after.Before(all[0].Position):
		return nil, nil
	}
	return inner.ReadAll(ctx, after, limit)
}

// ReadAllFiltered implements eventstore.FilteredReader.
func (s *EventStore) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	switch s.bug {
	case "filtered-through-to-head":
		page, err := s.Store.ReadAllFiltered(ctx, after, f, limit)
		if head, herr := s.Store.Head(ctx); err == nil && herr == nil && page.Through.Before(head) {
			page.Through = head
		}
		return page, err
	case "filtered-through-stuck":
		page, err := s.Store.ReadAllFiltered(ctx, after, f, limit)
		page.Through = after
		if n := len(page.Records); n > 0 {
			page.Through = page.Records[n-1].Position
		}
		return page, err
	case "filtered-ignores-prefixes":
		f.StreamPrefixes = nil
	case "filtered-like-prefixes":
		return s.readFilteredLike(ctx, after, f, limit)
	case "filtered-through-past-unfinished":
		s.sh.mu.Lock()
		defer s.sh.mu.Unlock()
		page, err := s.Store.ReadAllFiltered(ctx, after, f, limit)
		page.Records = slices.DeleteFunc(page.Records, func(r eventstore.Record) bool { return s.sh.hidden[r.Position.Commit] })
		return page, err
	}
	return s.Store.ReadAllFiltered(ctx, after, f, limit)
}

// readFilteredLike filters the types in the store and the prefixes here,
// as LIKE patterns.
func (s *EventStore) readFilteredLike(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	page := eventstore.FilteredPage{Through: after}
	for {
		p, err := s.Store.ReadAllFiltered(ctx, page.Through, eventstore.Filter{Types: f.Types}, 1)
		if err != nil || !page.Through.Before(p.Through) {
			return page, err
		}
		page.Through = p.Through
		for _, r := range p.Records {
			if len(f.StreamPrefixes) == 0 || slices.ContainsFunc(f.StreamPrefixes, func(pre string) bool { return likePrefix(r.StreamID, pre) }) {
				page.Records = append(page.Records, r)
			}
		}
		if limit > 0 && len(page.Records) == limit {
			return page, nil
		}
	}
}

// likePrefix reports whether id LIKE prefix || '%', with % and _ as
// wildcards.
func likePrefix(id, prefix string) bool {
	if prefix == "" {
		return true
	}
	switch prefix[0] {
	case '%':
		for i := 0; i <= len(id); i++ {
			if likePrefix(id[i:], prefix[1:]) {
				return true
			}
		}
		return false
	case '_':
		return id != "" && likePrefix(id[1:], prefix[1:])
	}
	return id != "" && id[0] == prefix[0] && likePrefix(id[1:], prefix[1:])
}

// HoldsAppends reports whether the store's appends finish in two phases,
// so that HoldAppend can keep one unfinished.
func (s *EventStore) HoldsAppends() bool {
	return s.bug == "gap-two-phase" || s.bug == "filtered-through-past-unfinished"
}

// HoldAppend appends events with Any and leaves the append unfinished, as
// a transaction still open, until commit is called: what
// eventstoretest.Config.HoldAppend asks of a store whose appends run in
// transactions. Only stores whose HoldsAppends is true can hold one.
func (s *EventStore) HoldAppend(ctx context.Context, streamID string, events []eventstore.Event) (res eventstore.AppendResult, commit func(), err error) {
	if !s.HoldsAppends() {
		return res, nil, fmt.Errorf("mutants: %s finishes its appends at once", s.bug)
	}
	s.sh.mu.Lock()
	res, err = s.Store.Append(ctx, streamID, eventstore.Any, events)
	if err == nil {
		s.sh.hidden[res.Position.Commit] = true
	}
	s.sh.mu.Unlock()
	if err != nil {
		return res, nil, err
	}
	return res, func() {
		s.sh.mu.Lock()
		delete(s.sh.hidden, res.Position.Commit)
		s.sh.mu.Unlock()
	}, nil
}
