package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/eventfold/eventfold/readmodel"
	"github.com/redis/go-redis/v9"
)

var _ readmodel.Store = (*Store)(nil)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "ef:rm:"

// Options configures a Store. A nil *Options means all defaults.
type Options struct {
	// Prefix starts every key the Store writes, so that several
	// applications or tests can share one Redis. It must not contain '{'
	// or '}', which would change the keys' hash tag. Empty means
	// DefaultPrefix.
	Prefix string
	// ScanCount is the COUNT hint of the SCAN calls Drop makes, and the
	// number of keys it unlinks per call. Zero means 1000.
	ScanCount int
}

// Store is a readmodel.Store in Redis. It is safe for concurrent use.
type Store struct {
	client    redis.UniversalClient
	prefix    string
	scanCount int
	tags      sync.Map // partition hash tag to its salted form (keys.go)
}

// New returns a Store that keeps read models in Redis through client: a
// *redis.Client (single node or Sentinel failover), a *redis.ClusterClient
// or a *redis.Ring. The Store does not close client.
func New(client redis.UniversalClient, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	s := &Store{client: client, prefix: DefaultPrefix, scanCount: 1000}
	if opts != nil {
		if opts.Prefix != "" {
			s.prefix = opts.Prefix
		}
		if opts.ScanCount > 0 {
			s.scanCount = opts.ScanCount
		}
	}
	if strings.ContainsAny(s.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q contains a brace, which would break the keys' hash tags", s.prefix)
	}
	return s, nil
}

// Apply implements readmodel.Writer with one Lua script call, which Redis
// runs atomically.
func (s *Store) Apply(ctx context.Context, ns readmodel.Namespace, b readmodel.Batch) (readmodel.Result, error) {
	if err := ns.Validate(); err != nil {
		return readmodel.Result{}, err
	}
	if err := b.Validate(); err != nil {
		return readmodel.Result{}, err
	}
	base := s.base(ns)
	args := make([]any, 0, 6+len(b.Writes)*4)
	hasCP := "0"
	if b.Checkpoint != "" {
		hasCP = "1"
	}
	hasIf, ifCP := "0", ""
	if b.IfCheckpoint != nil {
		hasIf, ifCP = "1", *b.IfCheckpoint
	}
	args = append(args, base, hasCP, b.Checkpoint, len(b.Writes), hasIf, ifCP)
	for _, w := range b.Writes {
		data := w.Data
		if data == nil {
			data = []byte{}
		}
		args = append(args, esc(w.ID), writeHead(w), data)
		for _, e := range w.Entries {
			args = append(args, esc(e.Index), readmodel.EntryKey(e.Value, w.ID))
		}
	}
	reply, err := applyScript.Run(ctx, s.client, []string{metaKey(base)}, args...).Int64Slice()
	if err != nil && strings.Contains(err.Error(), "CHECKPOINT_MISMATCH") {
		return readmodel.Result{}, fmt.Errorf("redisstore: apply to %v: %w", ns, readmodel.ErrCheckpointMismatch)
	}
	if err != nil {
		s.reloadOnNetworkError(err)
		return readmodel.Result{}, fmt.Errorf("redisstore: apply to %v: %w", ns, err)
	}
	res := readmodel.Result{Applied: len(b.Writes) - len(reply)}
	for _, i := range reply {
		res.Stale = append(res.Stale, int(i))
	}
	return res, nil
}

// Get implements readmodel.Reader.
func (s *Store) Get(ctx context.Context, ns readmodel.Namespace, id string) (readmodel.Document, error) {
	if err := ns.Validate(); err != nil {
		return readmodel.Document{}, err
	}
	if err := readmodel.ValidateID(id); err != nil {
		return readmodel.Document{}, err
	}
	vals, err := s.client.HMGet(ctx, docKey(s.base(ns), id), "r", "v").Result()
	if err != nil {
		s.reloadOnNetworkError(err)
		return readmodel.Document{}, fmt.Errorf("redisstore: get %q from %v: %w", id, ns, err)
	}
	d, ok, err := document(id, vals[0], vals[1])
	if err != nil {
		return readmodel.Document{}, err
	}
	if !ok {
		return readmodel.Document{}, readmodel.ErrNotFound
	}
	return d, nil
}

// document builds a Document from a stored revision and data, either of
// which may be nil; ok is false for a missing document or a tombstone.
func document(id string, rev, data any) (d readmodel.Document, ok bool, err error) {
	r, _ := rev.(string)
	v, hasData := data.(string)
	if !hasData || r == "" {
		return readmodel.Document{}, false, nil
	}
	d.ID = id
	d.Data = []byte(v)
	if d.Revision, err = decodeRevision(r); err != nil {
		return readmodel.Document{}, false, err
	}
	return d, true, nil
}

// GetMany implements readmodel.Reader with one MULTI/EXEC transaction of
// HMGETs, so it reads one consistent state.
func (s *Store) GetMany(ctx context.Context, ns readmodel.Namespace, ids []string) ([]readmodel.Document, error) {
	if err := ns.Validate(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := readmodel.ValidateID(id); err != nil {
			return nil, err
		}
	}
	if len(ids) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return []readmodel.Document{}, nil
	}
	base := s.base(ns)
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, docKey(base, id), "r", "v")
		}
		return nil
	})
	if err != nil {
		s.reloadOnNetworkError(err)
		return nil, fmt.Errorf("redisstore: get %d documents from %v: %w", len(ids), ns, err)
	}
	docs := make([]readmodel.Document, 0, len(ids))
	for i, cmd := range cmds {
		vals := cmd.Val()
		d, ok, err := document(ids[i], vals[0], vals[1])
		if err != nil {
			return nil, err
		}
		if ok {
			docs = append(docs, d)
		}
	}
	return docs, nil
}

// Query implements readmodel.Reader with one Lua script that reads the
// index range and the documents it names.
func (s *Store) Query(ctx context.Context, ns readmodel.Namespace, q readmodel.Query) (readmodel.Page, error) {
	if err := ns.Validate(); err != nil {
		return readmodel.Page{}, err
	}
	span, err := q.Span()
	if err != nil {
		return readmodel.Page{}, err
	}
	if span.Empty() {
		if err := ctx.Err(); err != nil {
			return readmodel.Page{}, err
		}
		return readmodel.Page{}, nil
	}
	lo, hi := "-", "+"
	if span.Lo != "" {
		lo = "[" + span.Lo
	}
	if span.Hi != "" {
		hi = "(" + span.Hi
	}
	desc := "0"
	if q.Descending {
		desc = "1"
	}
	size := q.PageSize()
	base := s.base(ns)
	reply, err := queryScript.Run(ctx, s.client, []string{indexKey(base, q.Index)}, base, lo, hi, size+1, desc).Slice()
	if err != nil {
		s.reloadOnNetworkError(err)
		return readmodel.Page{}, fmt.Errorf("redisstore: query %q of %v: %w", q.Index, ns, err)
	}
	var page readmodel.Page
	for i := 0; i+2 < len(reply) && i/3 < size; i += 3 {
		entry, _ := reply[i].(string)
		id, ok := readmodel.EntryID(entry)
		if !ok {
			return readmodel.Page{}, fmt.Errorf("redisstore: query %q of %v: malformed index entry %q", q.Index, ns, entry)
		}
		d, ok, err := document(id, reply[i+1], reply[i+2])
		if err != nil {
			return readmodel.Page{}, err
		}
		if ok {
			page.Documents = append(page.Documents, d)
			page.Entries = append(page.Entries, entry)
		}
	}
	if len(reply)/3 > size {
		last, _ := reply[3*(size-1)].(string)
		page.Next = readmodel.Cursor(last)
	}
	return page, nil
}

// State implements readmodel.Reader.
func (s *Store) State(ctx context.Context, ns readmodel.Namespace) (readmodel.State, error) {
	if err := ns.Validate(); err != nil {
		return readmodel.State{}, err
	}
	vals, err := s.client.HMGet(ctx, metaKey(s.base(ns)), "init", "cp").Result()
	if err != nil {
		s.reloadOnNetworkError(err)
		return readmodel.State{}, fmt.Errorf("redisstore: state of %v: %w", ns, err)
	}
	var st readmodel.State
	st.Initialized = vals[0] != nil
	st.Checkpoint, _ = vals[1].(string)
	return st, nil
}

// Drop implements readmodel.Writer. It deletes the namespace's state first,
// so that State reports it uninitialized at once, then finds the rest of its
// keys with SCAN (on every master of a cluster) and removes them with
// UNLINK, which frees memory in the background.
func (s *Store) Drop(ctx context.Context, ns readmodel.Namespace) error {
	if err := ns.Validate(); err != nil {
		return err
	}
	base := s.base(ns)
	if err := s.client.Unlink(ctx, metaKey(base)).Err(); err != nil {
		s.reloadOnNetworkError(err)
		return fmt.Errorf("redisstore: drop %v: %w", ns, err)
	}
	pattern := globEscape(base) + "*"
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return s.unlinkMatching(ctx, c, pattern)
		})
	case *redis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			return s.unlinkMatching(ctx, c, pattern)
		})
	default:
		err = s.unlinkMatching(ctx, s.client, pattern)
	}
	if err != nil {
		s.reloadOnNetworkError(err)
		return fmt.Errorf("redisstore: drop %v: %w", ns, err)
	}
	return nil
}

func (s *Store) unlinkMatching(ctx context.Context, c redis.Cmdable, pattern string) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, int64(s.scanCount)).Result()
		if err != nil {
			return err
		}
		for len(keys) > 0 {
			n := min(len(keys), s.scanCount)
			if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
				return err
			}
			keys = keys[n:]
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// reloadOnNetworkError makes a cluster client read the slot map again after
// a call failed without an answer from Redis, as when a master died:
// go-redis follows a failover at once only when a node answers MOVED, and
// would otherwise keep sending the dead master's slots to it until its
// periodic reload (ClusterOptions.ClusterStateReloadInterval, 60 s by
// default), long after a replica took over. The reload runs in the
// background, at most every 200 ms.
func (s *Store) reloadOnNetworkError(err error) {
	c, ok := s.client.(*redis.ClusterClient)
	var answered redis.Error
	if !ok || errors.As(err, &answered) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	c.ReloadState(context.Background())
}
