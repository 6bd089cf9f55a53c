package projection

import (
	"context"
	"errors"

	"github.com/eventfold/eventfold/eventstore"
)

// readAhead returns a Feed that reads the next batch from f while the
// Runner applies the current one, so that catching up overlaps the log's
// round trip with the read model's. It reads ahead only while batches come
// full: once a batch is short the log is near its head, and the next read
// waits for the Runner to ask, so a live projection applies batches as
// large as they come, as without read-ahead. At most one batch waits
// beside the one being applied.
//
// With decode set, the reader also tells which records of each batch it
// reads are the Runner's and decodes their events (see Runner.decodeAhead),
// on its own goroutine: nextDecoded hands the result over with the batch.
//
// Only LogSource's feed is read ahead: Feed does not promise that Commit
// may run while Next does, and a broker's feed already streams.
func readAhead(ctx context.Context, f Feed, max int, decode func([]eventstore.Record) ([]bool, []any)) Feed {
	if _, ok := f.(*logFeed); !ok {
		return f
	}
	ctx, cancel := context.WithCancel(ctx)
	ra := &readAheadFeed{
		inner:  f,
		max:    max,
		decode: decode,
		cancel: cancel,
		out:    make(chan readResult, 1),
		want:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go ra.run(ctx)
	return ra
}

type readResult struct {
	recs    []eventstore.Record
	mine    []bool              // which of recs are the Runner's, or nil
	events  []any               // recs decoded ahead, or nil
	through eventstore.Position // the inner feed's scanned position, if it has one
	err     error
}

// decodedFeed is implemented by feeds that decode records ahead: mine is
// nil, or tells for each record whether it is the Runner's; events is nil,
// or holds for each record its decoded event or nil.
type decodedFeed interface {
	nextDecoded(ctx context.Context, max int) (recs []eventstore.Record, mine []bool, events []any, err error)
}

var _ decodedFeed = (*readAheadFeed)(nil)

type readAheadFeed struct {
	inner  Feed
	max    int
	decode func([]eventstore.Record) ([]bool, []any) // nil: decode nothing ahead
	cancel context.CancelFunc
	out    chan readResult // the reader's batches, in log order
	want   chan struct{}   // the Runner asks for a read after a short batch
	done   chan struct{}   // closed when the reader has stopped

	// short is set, on the Runner's side, when the last batch received
	// was short: the reader then waits on want.
	short bool
	// through is the scanned position of the last batch received.
	through eventstore.Position
}

// scanned implements scannedFeed for the batches handed over so far.
func (ra *readAheadFeed) scanned() eventstore.Position { return ra.through }

var errReadAheadStopped = errors.New("projection: the log reader stopped")

// run reads batches until an error or cancellation; an error is handed
// over like a batch and ends the reader.
func (ra *readAheadFeed) run(ctx context.Context) {
	defer close(ra.done)
	for {
		recs, err := ra.inner.Next(ctx, ra.max)
		var (
			mine   []bool
			events []any
		)
		if err == nil && ra.decode != nil {
			mine, events = ra.decode(recs)
		}
		var through eventstore.Position
		if sf, ok := ra.inner.(scannedFeed); ok {
			through = sf.scanned()
		}
		select {
		case ra.out <- readResult{recs, mine, events, through, err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
		if len(recs) < ra.max {
			select {
			case <-ra.want:
			case <-ctx.Done():
				return
			}
		}
	}
}

// Next returns the batch read ahead, or waits for it. max must be the
// size readAhead was given (the Runner always asks for its BatchSize).
func (ra *readAheadFeed) Next(ctx context.Context, max int) ([]eventstore.Record, error) {
	recs, _, _, err := ra.nextDecoded(ctx, max)
	return recs, err
}

// nextDecoded is Next, with the batch's ownership and events found ahead.
func (ra *readAheadFeed) nextDecoded(ctx context.Context, _ int) ([]eventstore.Record, []bool, []any, error) {
	if ra.short {
		select {
		case ra.want <- struct{}{}:
		case <-ra.done:
			return nil, nil, nil, errReadAheadStopped
		case <-ctx.Done():
			return nil, nil, nil, ctx.Err()
		}
	}
	select {
	case res := <-ra.out:
		ra.short = res.err == nil && len(res.recs) < ra.max
		ra.through = res.through
		return res.recs, res.mine, res.events, res.err
	case <-ra.done:
		// The reader may have handed over its last result just before
		// stopping.
		select {
		case res := <-ra.out:
			ra.through = res.through
			return res.recs, res.mine, res.events, res.err
		default:
			return nil, nil, nil, errReadAheadStopped
		}
	case <-ctx.Done():
		return nil, nil, nil, ctx.Err()
	}
}

// Commit implements Feed. LogSource's feed commits nothing, so this never
// races with the reader.
func (ra *readAheadFeed) Commit(ctx context.Context, pos eventstore.Position) error {
	return ra.inner.Commit(ctx, pos)
}

// Close stops the reader, waits for it and closes the feed it reads.
func (ra *readAheadFeed) Close() error {
	ra.cancel()
	<-ra.done
	return ra.inner.Close()
}
