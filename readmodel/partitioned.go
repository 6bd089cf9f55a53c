package readmodel

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
)

// PartitionOf returns the partition, of n, that document id belongs to in
// a read model spread over n partitions. It is the function projections use
// to assign a stream to a partition, so a document keyed by the ID of the
// stream that writes it lives in the partition that applies that stream.
func PartitionOf(id string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// Partitioned is a Store that spreads every namespace of an underlying
// Store over N partitions: document id lives in partition PartitionOf(id,
// N), which is the namespace ns.WithPartition(k, N) of the underlying store,
// with its own documents, indexes and checkpoint. On Redis Cluster each
// partition hashes to a slot of its own, so one read model spreads over the
// cluster's masters.
//
// What holds per namespace in a Store holds per partition here:
//
//   - Apply commits each partition's share of a batch atomically, with the
//     checkpoint, in partition order; readers may see a batch that spans
//     partitions applied in some and not yet in others. Every partition
//     stores the checkpoint (and checks IfCheckpoint), so a batch refused
//     by partition 0's checkpoint writes nothing, while one refused by a
//     later partition leaves the earlier ones written.
//   - Get reads one partition; GetMany and Query read every partition
//     involved concurrently, each from one consistent state.
//   - Query merges the partitions' pages in index order. Its cursor is a
//     position in the index, as on a single namespace, so it stays valid
//     while documents are written.
//   - State reports Initialized when every partition is, so a partition
//     the store lost shows, and the checkpoint of partition 0, which Apply
//     writes first.
//   - Drop drops every partition.
//
// Projections write the partitions directly, each partition's Runner its
// own namespace (projection.Config.Spread), and serve queries through a
// Partitioned reader.
type Partitioned struct {
	store Reader
	w     Writer // nil for PartitionedReader's
	n     int
}

var _ Store = (*Partitioned)(nil)

// NewPartitioned returns a Store spreading every namespace of s over n
// partitions. n must be at least 1.
func NewPartitioned(s Store, n int) (*Partitioned, error) {
	if s == nil || n < 1 {
		return nil, fmt.Errorf("readmodel: NewPartitioned needs a store and at least one partition, not %d", n)
	}
	return &Partitioned{store: s, w: s, n: n}, nil
}

// PartitionedReader returns a Reader of the read models r holds spread over
// n partitions (n < 1 counts as 1), as a Partitioned store reads them. Query
// code gets one from projection.Serving.
func PartitionedReader(r Reader, n int) Reader {
	return ReadOnly(&Partitioned{store: r, n: max(n, 1)})
}

// Partitions returns the number of partitions.
func (p *Partitioned) Partitions() int { return p.n }

// Partition returns the namespace of the underlying store that holds
// document id of ns.
func (p *Partitioned) Partition(ns Namespace, id string) Namespace {
	return ns.WithPartition(PartitionOf(id, p.n), p.n)
}

func (p *Partitioned) validate(ns Namespace) error {
	if ns.Partition != "" {
		return invalid("namespace partition", "is set; a Partitioned store chooses the partition")
	}
	return ns.Validate()
}

// Get implements Reader: it reads the document's partition.
func (p *Partitioned) Get(ctx context.Context, ns Namespace, id string) (Document, error) {
	if err := p.validate(ns); err != nil {
		return Document{}, err
	}
	return p.store.Get(ctx, p.Partition(ns, id), id)
}

// GetMany implements Reader: it reads the partitions involved
// concurrently, each in one round trip.
func (p *Partitioned) GetMany(ctx context.Context, ns Namespace, ids []string) ([]Document, error) {
	if err := p.validate(ns); err != nil {
		return nil, err
	}
	byPart := make([][]string, p.n)
	for _, id := range ids {
		k := PartitionOf(id, p.n)
		byPart[k] = append(byPart[k], id)
	}
	found := make([][]Document, p.n)
	err := p.each(func(k int) (err error) {
		if len(byPart[k]) > 0 || (k == 0 && len(ids) == 0) {
			found[k], err = p.store.GetMany(ctx, ns.WithPartition(k, p.n), byPart[k])
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// Each partition answered its IDs in order, leaving out missing ones:
	// walk the IDs and take each partition's next document when it is
	// the one asked for.
	docs := make([]Document, 0, len(ids))
	for _, id := range ids {
		k := PartitionOf(id, p.n)
		if len(found[k]) > 0 && found[k][0].ID == id {
			docs = append(docs, found[k][0])
			found[k] = found[k][1:]
		}
	}
	return docs, nil
}

// Query implements Reader: it reads a page from every partition
// concurrently and merges them in index order.
func (p *Partitioned) Query(ctx context.Context, ns Namespace, q Query) (Page, error) {
	if err := p.validate(ns); err != nil {
		return Page{}, err
	}
	if _, err := q.Span(); err != nil {
		return Page{}, err
	}
	pages := make([]Page, p.n)
	err := p.each(func(k int) (err error) {
		pages[k], err = p.store.Query(ctx, ns.WithPartition(k, p.n), q)
		if err == nil && len(pages[k].Entries) != len(pages[k].Documents) {
			err = fmt.Errorf("readmodel: the store's Query gave %d documents but %d entries; a Partitioned store needs Page.Entries", len(pages[k].Documents), len(pages[k].Entries))
		}
		return err
	})
	if err != nil {
		return Page{}, err
	}
	return mergePages(pages, q.PageSize(), q.Descending)
}

// mergePages merges pages of one query over several partitions, each in
// index order. A partition that has more (its page has a cursor) was read
// only up to its cursor, its frontier, so the merged page stops at the
// nearest frontier: beyond it, that partition's next entries are unknown.
func mergePages(pages []Page, size int, desc bool) (Page, error) {
	before := func(a, b string) bool { return a < b != desc && a != b }
	var (
		bound    string
		hasBound bool
		entries  []string
		docs     []Document
	)
	for _, pg := range pages {
		if pg.Next != "" {
			f, err := decodeCursor(pg.Next)
			if err != nil {
				return Page{}, err
			}
			if !hasBound || before(f, bound) {
				bound, hasBound = f, true
			}
		}
		entries = append(entries, pg.Entries...)
		docs = append(docs, pg.Documents...)
	}
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		c := strings.Compare(entries[i], entries[j])
		if desc {
			c = -c
		}
		return c
	})
	var out Page
	for _, i := range order {
		if hasBound && before(bound, entries[i]) {
			break
		}
		if len(out.Documents) == size {
			out.Next = Cursor(out.Entries[size-1])
			return out, nil
		}
		out.Documents = append(out.Documents, docs[i])
		out.Entries = append(out.Entries, entries[i])
	}
	switch {
	case !hasBound:
	case len(out.Documents) == size:
		out.Next = Cursor(out.Entries[size-1])
	default:
		// Every partition has been read up to bound.
		out.Next = Cursor(bound)
	}
	return out, nil
}

// State implements Reader: Initialized when every partition is, with the
// checkpoint of partition 0.
func (p *Partitioned) State(ctx context.Context, ns Namespace) (State, error) {
	if err := p.validate(ns); err != nil {
		return State{}, err
	}
	states := make([]State, p.n)
	err := p.each(func(k int) (err error) {
		states[k], err = p.store.State(ctx, ns.WithPartition(k, p.n))
		return err
	})
	if err != nil {
		return State{}, err
	}
	st := states[0]
	for _, s := range states {
		st.Initialized = st.Initialized && s.Initialized
	}
	return st, nil
}

// Apply implements Writer: it applies each partition's share of b, with
// b's checkpoint and condition, atomically per partition and in partition
// order. Every partition gets a share, possibly without writes, so that
// every partition stores the checkpoint.
func (p *Partitioned) Apply(ctx context.Context, ns Namespace, b Batch) (Result, error) {
	if err := p.validate(ns); err != nil {
		return Result{}, err
	}
	if err := b.Validate(); err != nil {
		return Result{}, err
	}
	shares := make([][]Write, p.n)
	origin := make([][]int, p.n) // index in b.Writes of each share's writes
	for i, w := range b.Writes {
		k := PartitionOf(w.ID, p.n)
		shares[k] = append(shares[k], w)
		origin[k] = append(origin[k], i)
	}
	var res Result
	for k := range p.n {
		r, err := p.w.Apply(ctx, ns.WithPartition(k, p.n), Batch{Writes: shares[k], Checkpoint: b.Checkpoint, IfCheckpoint: b.IfCheckpoint})
		if err != nil {
			if k > 0 {
				err = fmt.Errorf("readmodel: partitions 0 to %d of %v applied the batch, partition %d failed: %w", k-1, ns, k, err)
			}
			return Result{}, err
		}
		res.Applied += r.Applied
		for _, i := range r.Stale {
			res.Stale = append(res.Stale, origin[k][i])
		}
	}
	slices.Sort(res.Stale)
	return res, nil
}

// Drop implements Writer: it drops every partition.
func (p *Partitioned) Drop(ctx context.Context, ns Namespace) error {
	if err := p.validate(ns); err != nil {
		return err
	}
	var errs []error
	for k := range p.n {
		if err := p.w.Drop(ctx, ns.WithPartition(k, p.n)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// each runs fn for every partition concurrently and returns the first
// error, by partition.
func (p *Partitioned) each(fn func(k int) error) error {
	if p.n == 1 {
		return fn(0)
	}
	errs := make([]error, p.n)
	var wg sync.WaitGroup
	for k := range p.n {
		wg.Go(func() { errs[k] = fn(k) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
