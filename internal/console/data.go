package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectionops"
)

// Projection states the console reports.
const (
	stateCaughtUp = "caught up"
	stateBehind   = "behind"
	stateNotBuilt = "not built"
)

// projectionJSON is one projection (for one tenant) as /api/projections
// reports it. Positions and lags are those of its active version.
type projectionJSON struct {
	Name   string `json:"name"`
	Tenant string `json:"tenant"`
	// AllTenants: the projection reads every tenant's log, and Head is
	// that log's.
	AllTenants bool `json:"all_tenants,omitempty"`
	// Version is the active version ("" when none is); Latest is the
	// newest version a Runner recorded, which differs while a rebuild runs.
	Version    string   `json:"version"`
	Latest     string   `json:"latest_version"`
	Partitions int      `json:"partitions"`
	Positions  []string `json:"positions"`
	// Position is the lowest partition checkpoint.
	Position  string `json:"position"`
	Head      string `json:"head"`
	LagEvents uint64 `json:"lag_events"`
	// LagSeconds is the age of the oldest event the projection has not
	// passed yet; 0 when caught up.
	LagSeconds float64 `json:"lag_seconds"`
	State      string  `json:"state"`

	checkpoints []eventstore.Position
}

func (p projectionJSON) key() string {
	b, _ := json.Marshal([2]string{p.Name, p.Tenant})
	return string(b)
}

func (s *Server) getProjections(r *http.Request) (any, error) {
	ps, err := s.projections(r.Context())
	if ps == nil {
		ps = []projectionJSON{}
	}
	return ps, err
}

// projections reads the catalog, the active versions' checkpoints and the
// head of each tenant's log: a tenant's projection is measured against its
// own tenant's last event (the ForTenant view's Head), never the global
// one. Projections come grouped by tenant, the default tenant first.
func (s *Server) projections(ctx context.Context) ([]projectionJSON, error) {
	entries, err := projectionops.ListProjections(ctx, s.cfg.ReadModels)
	if err != nil {
		return nil, err
	}
	if s.cfg.Tenant != "" {
		entries = slices.DeleteFunc(entries, func(e projectionops.CatalogEntry) bool { return e.Tenant != s.cfg.Tenant })
	}
	slices.SortStableFunc(entries, func(a, b projectionops.CatalogEntry) int { return strings.Compare(a.Tenant, b.Tenant) })
	type view struct {
		events Events
		head   eventstore.Position
	}
	// A projection that reads every tenant's log (CatalogEntry.AllTenants)
	// is measured against that log.
	const allKey = "\x00all"
	views := map[string]view{}
	viewOf := func(tenant string, all bool) (view, error) {
		key := tenant
		if all {
			key = allKey
		}
		if v, ok := views[key]; ok {
			return v, nil
		}
		var events Events
		var err error
		if all {
			events = s.allTenants()
		} else if events, err = s.tenantEvents(tenant); errors.Is(err, errNoTenants) {
			events = s.cfg.Events // a store without tenants: its only log
		} else if err != nil {
			return view{}, err
		}
		head, err := events.Head(ctx)
		if err != nil {
			return view{}, err
		}
		views[key] = view{events, head}
		return views[key], nil
	}
	out := make([]projectionJSON, 0, len(entries))
	for _, e := range entries {
		v, err := viewOf(e.Tenant, e.AllTenants)
		if err != nil {
			return nil, err
		}
		head := v.head
		p := projectionJSON{Name: e.Name, Tenant: e.Tenant, AllTenants: e.AllTenants, Latest: e.Version, Partitions: e.Partitions,
			Head: head.String(), Positions: []string{}}
		// One read of the pointer: the version and its checkpoints agree.
		in, err := projectionops.Inspect(ctx, s.cfg.ReadModels, e.Name, e.Tenant, nil)
		if err != nil {
			return nil, err
		}
		if in.Active == "" {
			p.State = stateNotBuilt
			out = append(out, p)
			continue
		}
		p.Version = in.Active
		p.Partitions = max(len(in.Partitions), 1)
		low := head
		for _, pc := range in.Partitions {
			cp := pc.Position
			p.checkpoints = append(p.checkpoints, cp)
			p.Positions = append(p.Positions, cp.String())
			if cp.Before(low) {
				low = cp
			}
		}
		p.Position = low.String()
		p.State = stateCaughtUp
		if low.Before(head) {
			p.State = stateBehind
			// Positions are not dense: an estimate, but never 0 while behind.
			p.LagEvents = 1
			if head.Sequence > low.Sequence {
				p.LagEvents = head.Sequence - low.Sequence
			}
			next, err := v.events.ReadAll(ctx, low, 1)
			if err != nil {
				return nil, err
			}
			if len(next) > 0 {
				p.LagSeconds = max(time.Since(next[0].RecordedAt).Seconds(), 0)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// sample is one point of the lag chart.
type sample struct {
	At         time.Time `json:"at"`
	LagEvents  uint64    `json:"lag_events"`
	LagSeconds float64   `json:"lag_seconds"`
}

// history keeps the last samples of every projection in ring buffers.
type history struct {
	mu   sync.Mutex
	size int
	bufs map[string]*ring
}

type ring struct {
	samples []sample
	next    int // where the next sample goes once full
}

func newHistory(size int) *history { return &history{size: size, bufs: map[string]*ring{}} }

func (h *history) add(key string, s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.bufs[key]
	if b == nil {
		b = &ring{}
		h.bufs[key] = b
	}
	if len(b.samples) < h.size {
		b.samples = append(b.samples, s)
		return
	}
	b.samples[b.next] = s
	b.next = (b.next + 1) % h.size
}

// snapshot returns every projection's samples, oldest first.
func (h *history) snapshot() map[string][]sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]sample, len(h.bufs))
	for k, b := range h.bufs {
		out[k] = append(slices.Clone(b.samples[b.next:]), b.samples[:b.next]...)
	}
	return out
}

// lagSeries is one projection's lag history.
type lagSeries struct {
	Name    string   `json:"name"`
	Tenant  string   `json:"tenant"`
	Samples []sample `json:"samples"`
}

func (s *Server) getLagHistory(*http.Request) (any, error) {
	snap := s.history.snapshot()
	out := make([]lagSeries, 0, len(snap))
	for k, samples := range snap {
		var nt [2]string
		_ = json.Unmarshal([]byte(k), &nt)
		out = append(out, lagSeries{Name: nt[0], Tenant: nt[1], Samples: samples})
	}
	slices.SortFunc(out, func(a, b lagSeries) int {
		if c := compareStrings(a.Name, b.Name); c != 0 {
			return c
		}
		return compareStrings(a.Tenant, b.Tenant)
	})
	return map[string]any{"interval_seconds": s.cfg.SampleEvery.Seconds(), "series": out}, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Server) getStreams(r *http.Request) (any, error) {
	limit, err := intParam(r, "limit", 50, 500)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 50
	}
	sc, err := s.requestScope(r, false)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	infos, err := sc.events.ListStreams(r.Context(), q.Get("prefix"), q.Get("after"), limit+1)
	if err != nil {
		return nil, err
	}
	more := len(infos) > limit
	if more {
		infos = infos[:limit]
	}
	if infos == nil {
		infos = []StreamInfo{}
	}
	return map[string]any{"tenant": sc.tenant, "streams": infos, "more": more}, nil
}

// eventJSON is an event as the console shows it: JSON data embedded as
// JSON, other data as a base64 string.
type eventJSON struct {
	ID          string              `json:"id"`
	Tenant      string              `json:"tenant"`
	Stream      string              `json:"stream"`
	Version     int64               `json:"version"`
	Position    string              `json:"position"`
	Type        string              `json:"type"`
	ContentType string              `json:"content_type"`
	RecordedAt  time.Time           `json:"recorded_at"`
	Metadata    eventstore.Metadata `json:"metadata"`
	Data        any                 `json:"data"`
	// Note says why the event is shown as stored rather than upcast.
	Note string `json:"note,omitempty"`
	// Projections says, in the correlation view, which projections have
	// passed the event: "applied" or "pending", by projection key.
	Projections []projectionProgress `json:"projections,omitempty"`
}

type projectionProgress struct {
	Name   string `json:"name"`
	Tenant string `json:"tenant"`
	State  string `json:"state"`
}

// eventJSON shows r, upcast by the registry when the console has one.
func (s *Server) eventJSON(r eventstore.Record) eventJSON {
	var note string
	if reg := s.cfg.Registry; reg != nil {
		up, err := reg.UpcastRecord(r)
		if err != nil {
			note = "shown as stored: " + err.Error()
		} else {
			r = up
		}
	}
	e := toEventJSON(r)
	e.Note = note
	return e
}

func toEventJSON(r eventstore.Record) eventJSON {
	var data any = r.Data // []byte marshals as base64
	if (r.ContentType == "" || r.ContentType == eventstore.ContentTypeJSON) && json.Valid(r.Data) {
		data = json.RawMessage(r.Data)
	}
	ct := r.ContentType
	if ct == "" {
		ct = eventstore.ContentTypeJSON
	}
	return eventJSON{ID: r.ID, Tenant: r.Tenant, Stream: r.StreamID, Version: r.Version, Position: r.Position.String(),
		Type: r.Type, ContentType: ct, RecordedAt: r.RecordedAt, Metadata: r.Metadata, Data: data}
}

func (s *Server) getStream(r *http.Request) (any, error) {
	id := r.PathValue("id")
	from, err := intParam(r, "from", 1, 1<<62)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(r, "limit", 100, 1000)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 100
	}
	sc, err := s.requestScope(r, false)
	if err != nil {
		return nil, err
	}
	recs, err := sc.events.ReadStream(r.Context(), id, int64(from), eventstore.Forward, limit+1)
	if err != nil {
		return nil, err
	}
	more := len(recs) > limit
	if more {
		recs = recs[:limit]
	}
	events := make([]eventJSON, 0, len(recs))
	for _, rec := range recs {
		events = append(events, s.eventJSON(rec))
	}
	return map[string]any{"tenant": sc.tenant, "stream": id, "events": events, "more": more}, nil
}

// correlationLimit bounds the events of one flow the console shows.
const correlationLimit = 500

// commandJSON is a command of a flow. Commands are not stored; they are
// known by the events they appended, which carry the command's ID as their
// causation ID. Listed in the order of their first event.
type commandJSON struct {
	ID     string   `json:"id"`
	Events []string `json:"events"`
}

func (s *Server) getCorrelation(r *http.Request) (any, error) {
	id := r.PathValue("id")
	sc, err := s.requestScope(r, true)
	if err != nil {
		return nil, err
	}
	recs, err := sc.events.EventsByCorrelation(r.Context(), id, correlationLimit+1)
	if err != nil {
		return nil, err
	}
	truncated := len(recs) > correlationLimit
	if truncated {
		recs = recs[:correlationLimit]
	}
	ps, err := s.projections(r.Context())
	if err != nil {
		return nil, err
	}
	eventIDs := map[string]bool{}
	for _, rec := range recs {
		eventIDs[rec.ID] = true
	}
	events := make([]eventJSON, 0, len(recs))
	commands := []*commandJSON{}
	byID := map[string]*commandJSON{}
	for _, rec := range recs {
		e := s.eventJSON(rec)
		for _, p := range ps {
			if p.Tenant != rec.Tenant {
				continue // another tenant's read model never receives it
			}
			state := "pending"
			if len(p.checkpoints) > 0 {
				cp := p.checkpoints[projection.PartitionOf(rec.StreamID, len(p.checkpoints))]
				if !cp.Before(rec.Position) {
					state = "applied"
				}
			}
			e.Projections = append(e.Projections, projectionProgress{Name: p.Name, Tenant: p.Tenant, State: state})
		}
		events = append(events, e)
		cause := rec.Metadata.CausationID
		if cause == "" || eventIDs[cause] {
			continue // caused by an event, not a command
		}
		c := byID[cause]
		if c == nil {
			c = &commandJSON{ID: cause}
			byID[cause] = c
			commands = append(commands, c)
		}
		c.Events = append(c.Events, rec.ID)
	}
	return map[string]any{"correlation_id": id, "tenant": sc.tenant, "all_tenants": sc.all, "events": events, "commands": commands, "truncated": truncated}, nil
}
