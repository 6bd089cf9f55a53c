package memstore

import (
	"context"
	"fmt"

	"github.com/eventfold/eventfold/eventstore"
)

var _ eventstore.StreamLifecycle = (*Store)(nil)

// streamLife is what the store keeps of a deleted or truncated stream.
type streamLife struct {
	before int64 // the first readable version
	tomb   bool  // hard-deleted
}

// first returns the first readable version of a stream with life l.
func (l *streamLife) first() int64 {
	if l == nil {
		return 1
	}
	return l.before
}

func (l *streamLife) tombstoned() bool { return l != nil && l.tomb }

func deleted(streamID string) error {
	return fmt.Errorf("memstore: stream %q: %w", streamID, eventstore.ErrStreamDeleted)
}

// DeleteStream implements eventstore.StreamLifecycle. A hard delete removes
// the stream's events from the log at once; a soft delete keeps them in
// ReadAll.
func (s *Store) DeleteStream(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, mode eventstore.DeleteMode) (eventstore.Position, error) {
	if err := eventstore.ValidateDelete(streamID, expected, mode); err != nil {
		return eventstore.Position{}, err
	}
	if s.all {
		return eventstore.Position{}, errAllTenants
	}
	if err := ctx.Err(); err != nil {
		return eventstore.Position{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sk := streamKey{s.tenant, streamID}
	life := s.life[sk]
	if life.tombstoned() {
		return eventstore.Position{}, deleted(streamID)
	}
	stream := s.streams[sk]
	version := int64(len(stream))
	readable := version >= life.first()
	if !readable && mode == eventstore.SoftDelete {
		return eventstore.Position{}, eventstore.ErrStreamNotFound
	}
	if !expected.AllowsLifecycle(version, readable) {
		actual := version
		if !readable {
			actual = 0
		}
		return eventstore.Position{}, &eventstore.ConcurrencyError{StreamID: streamID, Expected: expected, Actual: actual}
	}
	ev := eventstore.LifecycleEvent{StreamID: streamID, Type: eventstore.StreamDeletedType, Version: version, Before: version + 2}
	life = &streamLife{before: version + 2}
	if mode == eventstore.HardDelete {
		ev.Type = eventstore.StreamTombstoneType
		life = &streamLife{before: eventstore.StreamEnd, tomb: true}
		for _, i := range stream {
			s.gone[i] = true
		}
	}
	s.life[sk] = life
	s.streams[sk] = s.store(streamID, stream, version, []eventstore.Event{lifecycleEvent(ev)}, s.opts.Now().UTC())
	s.wake()
	return s.log[len(s.log)-1].Position, nil
}

// TruncateStream implements eventstore.StreamLifecycle. The truncated
// events stay in ReadAll.
func (s *Store) TruncateStream(ctx context.Context, streamID string, before int64) (eventstore.Position, error) {
	if err := eventstore.ValidateTruncate(streamID, before); err != nil {
		return eventstore.Position{}, err
	}
	if s.all {
		return eventstore.Position{}, errAllTenants
	}
	if err := ctx.Err(); err != nil {
		return eventstore.Position{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sk := streamKey{s.tenant, streamID}
	life := s.life[sk]
	if life.tombstoned() {
		return eventstore.Position{}, deleted(streamID)
	}
	version := int64(len(s.streams[sk]))
	switch {
	case version < life.first():
		return eventstore.Position{}, eventstore.ErrStreamNotFound
	case before > version:
		return eventstore.Position{}, &eventstore.InvalidInputError{Field: "before",
			Reason: fmt.Sprintf("%d is beyond the stream's version %d", before, version)}
	case before <= life.first():
		return eventstore.Position{}, nil
	}
	s.life[sk] = &streamLife{before: before}
	ev := eventstore.LifecycleEvent{StreamID: streamID, Type: eventstore.StreamTruncatedType, Version: version, Before: before}
	meta := streamKey{s.tenant, eventstore.MetadataStreamID(streamID)}
	stream := s.streams[meta]
	s.streams[meta] = s.store(meta.id, stream, int64(len(stream)), []eventstore.Event{lifecycleEvent(ev)}, s.opts.Now().UTC())
	s.wake()
	return s.log[len(s.log)-1].Position, nil
}

// wake tells tailers that the log grew. The caller holds mu.
func (s *Store) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func lifecycleEvent(ev eventstore.LifecycleEvent) eventstore.Event {
	return eventstore.Event{Type: ev.Type, Data: ev.Data()}
}
