package projectiontest

import "github.com/eventfold/eventfold/eventstore"

// GivenDeleted records a delete of streamID, after its given events, as a
// store with an eventstore.StreamLifecycle writes it: a soft delete's
// marker or a hard delete's tombstone at the stream's next version. Given
// events of the stream after a soft delete recreate it.
func (s *Scenario) GivenDeleted(streamID string, mode eventstore.DeleteMode) *Scenario {
	s.t.Helper()
	v := s.version[streamID]
	e := eventstore.LifecycleEvent{StreamID: streamID, Type: eventstore.StreamDeletedType, Version: v, Before: v + 2}
	if mode == eventstore.HardDelete {
		e.Type = eventstore.StreamTombstoneType
	}
	return s.Given(streamID, eventstore.Event{Type: e.Type, Data: e.Data()})
}

// GivenTruncated records a truncation of streamID before version before,
// as a store writes it: an event of the stream's metadata stream.
func (s *Scenario) GivenTruncated(streamID string, before int64) *Scenario {
	s.t.Helper()
	e := eventstore.LifecycleEvent{StreamID: streamID, Type: eventstore.StreamTruncatedType, Version: s.version[streamID], Before: before}
	return s.Given(eventstore.MetadataStreamID(streamID), eventstore.Event{Type: e.Type, Data: e.Data()})
}

// GivenArchived records an archive of streamID, after its given events, as
// a store with an eventstore.StreamArchiver writes it: a marker at the
// stream's next version.
func (s *Scenario) GivenArchived(streamID string) *Scenario {
	s.t.Helper()
	v := s.version[streamID]
	e := eventstore.LifecycleEvent{StreamID: streamID, Type: eventstore.StreamArchivedType, Version: v, Before: v + 2}
	return s.Given(streamID, eventstore.Event{Type: e.Type, Data: e.Data()})
}
