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
	arch   bool  // archived
	meta   eventstore.StreamMetadata
}

// first returns the first readable version of a stream with life l.
func (l *streamLife) first() int64 {
	if l == nil {
		return 1
	}
	return l.before
}

func (l *streamLife) tombstoned() bool { return l != nil && l.tomb }

// sealed returns the error of an append to, or a read of, a stream with
// life l that was hard-deleted or archived, and nil for any other.
func (l *streamLife) sealed(streamID string) error {
	switch {
	case l.tombstoned():
		return deleted(streamID)
	case l != nil && l.arch:
		return archived(streamID)
	}
	return nil
}

func archived(streamID string) error {
	return fmt.Errorf("memstore: stream %q: %w", streamID, eventstore.ErrStreamArchived)
}

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
		delete(s.archive, sk)
	}
	if old := s.life[sk]; old != nil && mode == eventstore.SoftDelete {
		life.meta = old.meta
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
	if life != nil {
		s.life[sk].meta = life.meta
	}
	return s.appendMetadataEvent(eventstore.LifecycleEvent{StreamID: streamID, Type: eventstore.StreamTruncatedType, Version: version, Before: before}), nil
}

// appendMetadataEvent appends ev to its stream's metadata stream and
// returns its position. The caller holds mu.
func (s *Store) appendMetadataEvent(ev eventstore.LifecycleEvent) eventstore.Position {
	meta := streamKey{s.tenant, eventstore.MetadataStreamID(ev.StreamID)}
	stream := s.streams[meta]
	s.streams[meta] = s.store(meta.id, stream, int64(len(stream)), []eventstore.Event{lifecycleEvent(ev)}, s.opts.Now().UTC())
	s.wake()
	return s.log[len(s.log)-1].Position
}

// SetStreamMetadata implements eventstore.StreamLifecycle.
func (s *Store) SetStreamMetadata(ctx context.Context, streamID string, meta eventstore.StreamMetadata) (eventstore.Position, error) {
	if err := eventstore.ValidateLifecycleStreamID(streamID); err != nil {
		return eventstore.Position{}, err
	}
	if err := meta.Validate(); err != nil {
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
	if life == nil {
		life = &streamLife{before: 1}
		s.life[sk] = life
	}
	life.meta = meta
	return s.appendMetadataEvent(eventstore.LifecycleEvent{StreamID: streamID, Type: eventstore.StreamMetadataType,
		Version: int64(len(s.streams[sk])), Metadata: &meta}), nil
}

// ReadStreamMetadata implements eventstore.StreamLifecycle.
func (s *Store) ReadStreamMetadata(ctx context.Context, streamID string) (eventstore.StreamMetadata, error) {
	if err := eventstore.ValidateStreamID(streamID); err != nil {
		return eventstore.StreamMetadata{}, err
	}
	if s.all {
		return eventstore.StreamMetadata{}, errAllTenants
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	life := s.life[streamKey{s.tenant, streamID}]
	switch {
	case life.tombstoned():
		return eventstore.StreamMetadata{}, deleted(streamID)
	case life == nil:
		return eventstore.StreamMetadata{}, ctx.Err()
	}
	return life.meta, ctx.Err()
}

// readable returns the first version of stream (of key sk) that ReadStream
// returns: after its truncation, and within its retention. The caller
// holds mu.
func (s *Store) readable(sk streamKey, stream []int) int64 {
	life := s.life[sk]
	if life == nil {
		return 1
	}
	first := life.meta.FirstVersion(int64(len(stream)), life.before)
	if life.meta.MaxAge > 0 {
		cutoff := s.opts.Now().Add(-life.meta.MaxAge)
		for first <= int64(len(stream)) && s.log[stream[first-1]].RecordedAt.Before(cutoff) {
			first++
		}
	}
	return first
}

var _ eventstore.Reclaimer = (*Store)(nil)

// ReclaimStreams implements eventstore.Reclaimer: the events ReadStream no
// longer returns leave ReadAll, but for each stream's last.
func (s *Store) ReclaimStreams(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for sk, life := range s.life {
		if !s.all && sk.tenant != s.tenant || life.tomb {
			continue
		}
		stream := s.streams[sk]
		first := min(s.readable(sk, stream), int64(len(stream)))
		for _, i := range stream[:max(first-1, 0)] {
			if !s.gone[i] {
				s.gone[i] = true
				n++
			}
		}
	}
	return n, nil
}

// wake tells tailers that the log grew. The caller holds mu.
func (s *Store) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func lifecycleEvent(ev eventstore.LifecycleEvent) eventstore.Event {
	return eventstore.Event{Type: ev.Type, Data: ev.Data()}
}

var _ eventstore.Reclaimer = (*AllTenantsReader)(nil)

// ReclaimStreams implements eventstore.Reclaimer for every tenant's
// streams.
func (r *AllTenantsReader) ReclaimStreams(ctx context.Context) (int64, error) {
	return r.s.ReclaimStreams(ctx)
}
