package command

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/eventfold/eventfold/eventstore"
)

// SubjectForgottenType is the event type Forget appends. Projections react
// to it with projection.OnForget.
const SubjectForgottenType = "eventfold.subject.forgotten"

// ForgottenStream is the stream Forget appends to when
// ForgetOptions.Stream is empty.
const ForgottenStream = "eventfold.forgotten"

// SubjectForgotten is the data of a SubjectForgottenType event, in JSON.
type SubjectForgotten struct {
	Subject string `json:"subject"`
}

// ForgetOptions configures Forget. A nil *ForgetOptions means all defaults.
type ForgetOptions struct {
	// Stream is the stream the SubjectForgotten event goes to. Empty means
	// ForgottenStream. A partitioned projection applies the event in the
	// partition of its stream (see projection.Config.Partitions), so name
	// the stream whose documents the forget hooks change, usually the
	// subject's own; Handlers skip the event when loading that stream
	// unless their Registry registers a type for it.
	Stream string
}

// Forget erases subject's personal data everywhere eventfold keeps it, in
// one call:
//
//   - it deletes the subject's key from keys, which shreds the fields a
//     ShreddingCodec sealed under it in every stored event, and makes every
//     snapshot of a stream that names the subject unreadable (a shredding
//     Handler seals its snapshots under its subjects' keys and reloads such
//     a stream from its events);
//   - it then appends a SubjectForgotten event to store, which the forget
//     hooks of projections (projection.OnForget) apply in log order, in the
//     same atomic batch as their checkpoint, so read models built from the
//     subject's events lose the data too, and a rebuild applies it again.
//
// It returns the position of the SubjectForgotten event: wait for it
// (projection.WaitFor) to know the read models are clean. Forget is
// idempotent: when the append fails after the key is gone, call it again.
// keys and store must be the same tenant's.
//
// A command that read the subject's state before the key was deleted and
// appends after it seals what it read under a new key: forget a subject
// once no command for it runs, for example after closing the account.
func Forget(ctx context.Context, keys KeyStore, store eventstore.Store, subject string, opts *ForgetOptions) (eventstore.Position, error) {
	if err := ValidateSubject(subject); err != nil {
		return eventstore.Position{}, fmt.Errorf("command: forget: %w", err)
	}
	stream := ForgottenStream
	if opts != nil && opts.Stream != "" {
		stream = opts.Stream
	}
	if err := eventstore.ValidateStreamID(stream); err != nil {
		return eventstore.Position{}, fmt.Errorf("command: forget %q: %w", subject, err)
	}
	if err := keys.Forget(ctx, subject); err != nil {
		return eventstore.Position{}, fmt.Errorf("command: forget %q: delete the key: %w", subject, err)
	}
	data, err := json.Marshal(SubjectForgotten{Subject: subject})
	if err != nil {
		return eventstore.Position{}, err
	}
	ev := eventstore.Event{Type: SubjectForgottenType, Data: data, ContentType: eventstore.ContentTypeJSON,
		Metadata: eventstore.Metadata{CorrelationID: CorrelationID(ctx), CausationID: CommandID(ctx)}}
	res, err := store.Append(ctx, stream, eventstore.Any, []eventstore.Event{ev})
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("command: forget %q: the key is deleted, but the event for the read models is not appended (call Forget again): %w", subject, err)
	}
	return res.Position, nil
}
