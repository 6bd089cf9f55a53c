package projection

import (
	"context"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/readmodel"
)

// A Runner fed by LogSource commits a batch while it reads and handles
// the next one, so that the read-model store's round trip overlaps the
// log's and the handlers' work. At most one commit is in flight: the next
// batch's commit waits for it (Redis would run them in order anyway, but
// a failed commit must stop the writes that follow it). The next batch's
// handlers read the in-flight batch's writes, not the store, for the
// documents it writes (Tx.behind). Each batch still commits its writes
// and its checkpoint in one atomic Apply, in log order; if a commit fails,
// the batch handled behind it is dropped with the rest of the run, and
// the Runner resumes from the checkpoint in the store.
//
// A broker's feed may hold the next message back until the last one is
// acknowledged (Feed.Commit), so other sources commit each batch before
// asking for the next.

// flight is a batch's commit in progress.
type flight struct {
	done   chan struct{} // closed when the commit has ended
	err    error         // its outcome, once done is closed
	writes []readmodel.Write
	index  map[string]int // document ID to its index in writes
}

// write returns the in-flight write of document id, if any. f may be nil.
func (f *flight) write(id string) (readmodel.Write, bool) {
	if f == nil {
		return readmodel.Write{}, false
	}
	i, ok := f.index[id]
	if !ok {
		return readmodel.Write{}, false
	}
	return f.writes[i], true
}

// launch starts committing the Tx's writes with checkpoint pos, once the
// commit before has landed, and hands the Tx a fresh set of writes that
// reads through the ones in flight.
func (r *Runner) launch(ctx context.Context, epoch string, pos eventstore.Position, applied int, start time.Time, lastApplied eventstore.Record) error {
	if err := r.land(); err != nil {
		return err
	}
	f := &flight{done: make(chan struct{}), writes: r.tx.writes, index: r.tx.pending}
	r.tx.writes, r.tx.pending = nil, make(map[string]int, len(f.index))
	r.tx.behind, r.flight = f, f
	go func() {
		defer close(f.done)
		if f.err = r.commitWrites(ctx, epoch, pos, f.writes); f.err == nil {
			r.batchDone(applied, start, pos, lastApplied)
		}
	}()
	return nil
}

// land waits for the commit in flight, if any, and returns its error.
func (r *Runner) land() error {
	f := r.flight
	if f == nil {
		return nil
	}
	<-f.done
	r.flight, r.tx.behind = nil, nil
	return f.err
}
