package memstore

import (
	"context"

	"github.com/eventfold/eventfold/eventstore"
)

var _ eventstore.StreamArchiver = (*Store)(nil)

// ArchiveStream implements eventstore.StreamArchiver: the stream's events
// leave ReadAll for the store's archive, under the same lock appends take.
func (s *Store) ArchiveStream(ctx context.Context, streamID string, expected eventstore.ExpectedVersion) (eventstore.Position, error) {
	if err := eventstore.ValidateArchive(streamID, expected); err != nil {
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
	if err := life.sealed(streamID); err != nil {
		return eventstore.Position{}, err
	}
	stream := s.streams[sk]
	version := int64(len(stream))
	if version < life.first() {
		return eventstore.Position{}, eventstore.ErrStreamNotFound
	}
	if !expected.AllowsLifecycle(version, true) {
		return eventstore.Position{}, &eventstore.ConcurrencyError{StreamID: streamID, Expected: expected, Actual: version}
	}
	var moved []int
	for _, i := range stream {
		if !s.gone[i] {
			s.gone[i] = true
			moved = append(moved, i)
		}
	}
	s.archive[sk] = moved
	next := &streamLife{before: version + 2, arch: true}
	if life != nil {
		next.meta = life.meta
	}
	s.life[sk] = next
	ev := eventstore.LifecycleEvent{StreamID: streamID, Type: eventstore.StreamArchivedType, Version: version, Before: version + 2}
	s.streams[sk] = s.store(streamID, stream, version, []eventstore.Event{lifecycleEvent(ev)}, s.opts.Now().UTC())
	s.wake()
	return s.log[len(s.log)-1].Position, nil
}

// ReadArchivedStream implements eventstore.StreamArchiver.
func (s *Store) ReadArchivedStream(ctx context.Context, streamID string, from int64, limit int) ([]eventstore.Record, error) {
	if err := eventstore.ValidateReadArchived(streamID, limit); err != nil {
		return nil, err
	}
	if s.all {
		return nil, errAllTenants
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sk := streamKey{s.tenant, streamID}
	life := s.life[sk]
	switch {
	case life.tombstoned():
		return nil, deleted(streamID)
	case life == nil || !life.arch:
		return nil, eventstore.ErrStreamNotFound
	}
	var out []eventstore.Record
	for _, i := range s.archive[sk] {
		if rec := s.log[i]; rec.Version >= from && (limit == 0 || len(out) < limit) {
			out = append(out, cloneRecord(rec))
		}
	}
	return out, nil
}
