package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/eventfold/eventfold/eventstore"
)

// GroupCommit configures group commit: Appends made concurrently through one
// Store are coalesced into one call of the append_events_group function, so
// into one statement, one transaction and one commit, while each caller
// keeps its own outcome (its version and position, a
// *eventstore.ConcurrencyError, a replay or eventstore.ErrDuplicateEvent).
// The zero value leaves group commit off.
//
// There is no timer: an Append that finds a free flusher goes out at once,
// alone, through the ordinary append path, so group commit adds no latency
// without concurrency. Appends that arrive while a group is in flight wait
// and go out together in the next one.
//
// Appends with a command key (AppendKeyed with a non-empty key) and appends
// through a Store built on a pgx.Tx are never grouped.
//
// When a caller's ctx is cancelled while its append is queued or in flight,
// Append returns at once with an error wrapping ctx.Err(), but the group goes
// on without it, so its events may still be stored. Retrying the append with
// the same event IDs settles it: a stored append comes back as a replay.
type GroupCommit struct {
	// Enabled turns group commit on.
	Enabled bool
	// MaxBatch is the most appends in one group. Zero means 64.
	MaxBatch int
	// MaxInFlight is the most groups in flight at once, each on its own
	// connection. Zero means 1.
	MaxInFlight int
}

const (
	defaultMaxBatch    = 64
	defaultMaxInFlight = 1
)

func (g GroupCommit) validate() error {
	var errs []error
	if g.MaxBatch < 0 {
		errs = append(errs, errors.New("pgstore: New: Options.GroupCommit.MaxBatch must not be negative"))
	}
	if g.MaxInFlight < 0 {
		errs = append(errs, errors.New("pgstore: New: Options.GroupCommit.MaxInFlight must not be negative"))
	}
	return errors.Join(errs...)
}

// groupRequest is one queued append, already validated and encoded.
type groupRequest struct {
	tenant       string
	stream       string
	expected     eventstore.ExpectedVersion
	ids          []string
	uuids        []pgtype.UUID
	types        []string
	contentTypes []string
	data, meta   [][]byte
	done         chan groupOutcome // buffered: the flusher never waits for the caller
}

type groupOutcome struct {
	res eventstore.AppendResult
	err error
}

// grouper queues appends and runs them in groups. Flushers are goroutines
// started on demand, at most maxInFlight at a time; each takes what is
// queued, runs it and exits when the queue is empty, so an idle Store holds
// no goroutine and needs no Close.
type grouper struct {
	s           *Store
	sql         string
	maxBatch    int
	maxInFlight int

	mu       sync.Mutex
	queue    []*groupRequest
	flushers int
}

func newGrouper(s *Store, quotedSchema string) *grouper {
	g := &grouper{
		s: s,
		sql: "SELECT command, outcome, stream_version, transaction_id, global_position FROM " + quotedSchema +
			".append_events_group($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
		maxBatch:    s.opts.GroupCommit.MaxBatch,
		maxInFlight: s.opts.GroupCommit.MaxInFlight,
	}
	if g.maxBatch == 0 {
		g.maxBatch = defaultMaxBatch
	}
	if g.maxInFlight == 0 {
		g.maxInFlight = defaultMaxInFlight
	}
	return g
}

// append queues r and waits for its outcome or for ctx.
func (g *grouper) append(ctx context.Context, r *groupRequest) (eventstore.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append to stream %s: %w", quote(r.stream), err)
	}
	r.done = make(chan groupOutcome, 1)
	g.mu.Lock()
	g.queue = append(g.queue, r)
	start := g.flushers < g.maxInFlight
	if start {
		g.flushers++
	}
	g.mu.Unlock()
	if start {
		go g.flush()
	}
	select {
	case o := <-r.done:
		return o.res, o.err
	case <-ctx.Done():
		select {
		case o := <-r.done:
			return o.res, o.err
		default:
		}
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append to stream %s: %w (its group goes on: the events may be stored)",
			quote(r.stream), ctx.Err())
	}
}

// flush runs groups until the queue is empty. It uses its own context: a
// group's statement belongs to all of its callers, not to one.
func (g *grouper) flush() {
	ctx := context.Background()
	for {
		batch := g.take()
		if batch == nil {
			return
		}
		g.run(ctx, batch)
	}
}

// take removes the next group from the queue, or returns nil and retires the
// calling flusher when the queue is empty. A request that shares an event ID
// with one already in the group waits for the next group, so that within a
// group every event ID is distinct and the group behaves as its appends made
// one after the other.
func (g *grouper) take() []*groupRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.flushers--
		return nil
	}
	if len(g.queue) == 1 {
		batch := []*groupRequest{g.queue[0]}
		g.queue[0] = nil
		g.queue = g.queue[:0]
		return batch
	}
	batch := make([]*groupRequest, 0, min(len(g.queue), g.maxBatch))
	seen := make(map[[16]byte]struct{})
	rest := 0
	// With row-level security a group runs as one tenant, the first's.
	oneTenant := g.s.opts.RowLevelSecurity
	for _, r := range g.queue {
		if len(batch) < g.maxBatch && !sharesID(seen, r) && (!oneTenant || len(batch) == 0 || r.tenant == batch[0].tenant) {
			for _, u := range r.uuids {
				seen[u.Bytes] = struct{}{}
			}
			batch = append(batch, r)
			continue
		}
		g.queue[rest] = r
		rest++
	}
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	return batch
}

func sharesID(seen map[[16]byte]struct{}, r *groupRequest) bool {
	for _, u := range r.uuids {
		if _, ok := seen[u.Bytes]; ok {
			return true
		}
	}
	return false
}

// run appends batch and hands every caller its outcome.
func (g *grouper) run(ctx context.Context, batch []*groupRequest) {
	if len(batch) == 1 {
		g.alone(ctx, batch[0])
		return
	}
	// Stream rows are locked in (tenant, stream) order, so two groups in
	// flight at once (or in two processes) never deadlock. The sort is
	// stable: appends to one stream keep their queue order.
	slices.SortStableFunc(batch, func(a, b *groupRequest) int {
		if c := strings.Compare(a.tenant, b.tenant); c != 0 {
			return c
		}
		return strings.Compare(a.stream, b.stream)
	})
	outs, err := g.exec(ctx, batch, false)
	if isEventIDViolation(err) {
		// A stored event ID: a retry of an earlier append, or a concurrent
		// one that committed first. The whole group was rolled back; once
		// more with the replay check on.
		outs, err = g.exec(ctx, batch, true)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server refused the group and rolled it back: append each
		// on its own, so each caller gets its own outcome.
		for _, r := range batch {
			g.alone(ctx, r)
		}
		return
	}
	if err != nil {
		for _, r := range batch {
			r.done <- groupOutcome{err: g.s.backendError("append to stream "+quote(r.stream)+" (group commit)", err)}
		}
		return
	}
	for i, r := range batch {
		r.done <- outs[i]
	}
}

// alone appends r through the ordinary path.
func (g *grouper) alone(ctx context.Context, r *groupRequest) {
	rec, err := g.s.view(r.tenant, false).appendPrepared(ctx, r.stream, r.expected, nil, r.ids, r.uuids, r.types, r.contentTypes, r.data, r.meta)
	r.done <- groupOutcome{res: rec.Result, err: err}
}

// exec runs one append_events_group statement for batch and returns the
// outcome of each append, in batch order.
func (g *grouper) exec(ctx context.Context, batch []*groupRequest, checkReplay bool) ([]groupOutcome, error) {
	m := len(batch)
	tenants := make([]string, m)
	streams := make([]string, m)
	expected := make([]int64, m)
	first := make([]int32, m)
	counts := make([]int32, m)
	n := 0
	for _, r := range batch {
		n += len(r.uuids)
	}
	cmd := make([]int32, 0, n)
	uuids := make([]pgtype.UUID, 0, n)
	types := make([]string, 0, n)
	contentTypes := make([]string, 0, n)
	data := make([][]byte, 0, n)
	meta := make([][]byte, 0, n)
	for i, r := range batch {
		tenants[i] = r.tenant
		streams[i] = r.stream
		expected[i] = int64(r.expected)
		first[i] = int32(len(uuids) + 1)
		counts[i] = int32(len(r.uuids))
		for range r.uuids {
			cmd = append(cmd, int32(i+1))
		}
		uuids = append(uuids, r.uuids...)
		types = append(types, r.types...)
		contentTypes = append(contentTypes, r.contentTypes...)
		data = append(data, r.data...)
		meta = append(meta, r.meta...)
	}
	rows, err := g.s.view(batch[0].tenant, false).db.Query(ctx, g.sql, checkReplay, streams, expected, first, counts, cmd, uuids, types, contentTypes, data, meta, tenants)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	outs := make([]groupOutcome, m)
	seen := make([]bool, m)
	stored := false
	for rows.Next() {
		var (
			command, outcome int
			version          int64
			txid             *uint64
			position         *int64
		)
		if err := rows.Scan(&command, &outcome, &version, &txid, &position); err != nil {
			return nil, err
		}
		if command < 1 || command > m || seen[command-1] {
			return nil, fmt.Errorf("append_events_group returned command %d for a group of %d", command, m)
		}
		r := batch[command-1]
		seen[command-1] = true
		stored = stored || outcome == 0
		res, err := appendResult(r.stream, r.expected, r.ids, outcome, version, txid, position)
		outs[command-1] = groupOutcome{res: res, err: err}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("append_events_group returned no row for command %d of %d", i+1, m)
		}
	}
	if stored {
		g.s.signals.notify(tenants...)
	}
	return outs, nil
}

func isEventIDViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "events_event_id"
}
