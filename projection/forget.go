package projection

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// ForgetFunc removes a forgotten subject's personal data from a read model
// through tx: it deletes the subject's documents, or rewrites them without
// the data (a new Put replaces the document's index entries too, so values
// indexed from the data go with it). It runs again when the read model is
// rebuilt, so it must do nothing harmful to documents that hold no such
// data, or none at all.
type ForgetFunc func(ctx context.Context, tx *Tx, subject string) error

// OnForget registers fn to run when a subject is forgotten with
// command.Forget: it handles the command.SubjectForgottenType event that
// Forget appends, so the Runner applies it in log order, after every event
// before it, in the same atomic batch as its checkpoint, and again on a
// rebuild. The writes carry the event's position as their revision, so an
// older write delivered late cannot bring the data back. It replaces any
// earlier hook.
//
// fn finds the subject's documents by ID (tx.Get sees the batch's pending
// writes): key documents that hold a subject's personal data by the subject,
// or keep a document per subject that lists them. In a partitioned
// projection the hook runs in the partition of the stream Forget appended
// to (command.ForgetOptions.Stream), and may only write that partition's
// documents.
func (p *Projection) OnForget(fn ForgetFunc) *Projection {
	return p.On(command.SubjectForgottenType, func(ctx context.Context, tx *Tx, rec eventstore.Record) error {
		var e command.SubjectForgotten
		if err := json.Unmarshal(rec.Data, &e); err != nil || e.Subject == "" {
			return fmt.Errorf("projection %s: %s event %s names no subject: %q", p.name, rec.Type, rec.ID, rec.Data)
		}
		return fn(ctx, tx, e.Subject)
	})
}
