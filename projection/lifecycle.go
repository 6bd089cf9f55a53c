package projection

import (
	"context"
	"fmt"

	"github.com/eventfold/eventfold/eventstore"
)

// LifecycleFunc reacts to a stream's deletion, truncation or archiving
// through tx: it
// drops the documents it keeps for e.StreamID, or rewrites them. Like any
// handler it runs again when the read model is rebuilt, and must do
// nothing harmful when the documents are already gone.
type LifecycleFunc func(ctx context.Context, tx *Tx, e eventstore.LifecycleEvent) error

// OnStreamDeleted registers fn to run when a stream is deleted, softly or
// for good (eventstore.StreamLifecycle.DeleteStream): it handles the
// deletion marker and the tombstone the store appends to the stream, so
// the Runner applies it in log order, after the stream's earlier events,
// in the same atomic batch as its checkpoint. e.Hard() tells a tombstone.
// A soft-deleted stream may be recreated: its later events reach the
// projection as usual. It replaces any earlier hook.
func (p *Projection) OnStreamDeleted(fn LifecycleFunc) *Projection {
	h := p.lifecycleHandler(fn)
	p.On(eventstore.StreamDeletedType, h)
	return p.On(eventstore.StreamTombstoneType, h)
}

// OnStreamTruncated registers fn to run when a stream's events before a
// version are truncated (eventstore.StreamLifecycle.TruncateStream). The
// truncation event is stored in the stream's metadata stream; PartitionOf
// sends it to the stream's own partition. It replaces any earlier hook.
func (p *Projection) OnStreamTruncated(fn LifecycleFunc) *Projection {
	return p.On(eventstore.StreamTruncatedType, p.lifecycleHandler(fn))
}

// OnStreamArchived registers fn to run when a stream is archived
// (eventstore.StreamArchiver.ArchiveStream): it handles the marker the
// store appends to the stream, in log order after the stream's earlier
// events. The stream takes no more events; a read model may keep what it
// has, mark it archived or drop it. It replaces any earlier hook.
func (p *Projection) OnStreamArchived(fn LifecycleFunc) *Projection {
	return p.On(eventstore.StreamArchivedType, p.lifecycleHandler(fn))
}

// DropDocumentOnDelete is the usual OnStreamDeleted hook for a read model
// that keeps one document per stream, under the stream's ID: it deletes
// that document. As an OnStreamArchived hook it drops an archived
// stream's document.
func DropDocumentOnDelete(ctx context.Context, tx *Tx, e eventstore.LifecycleEvent) error {
	tx.Delete(e.StreamID)
	return nil
}

func (p *Projection) lifecycleHandler(fn LifecycleFunc) HandlerFunc {
	return func(ctx context.Context, tx *Tx, rec eventstore.Record) error {
		e, ok := eventstore.LifecycleEventOf(rec)
		if !ok {
			return fmt.Errorf("projection %s: %s event %s names no stream: %q", p.name, rec.Type, rec.ID, rec.Data)
		}
		return fn(ctx, tx, e)
	}
}
