package command

import (
	"context"
	"sync"
)

// streamQueue lets one command at a time per stream run through a Handler,
// in arrival order. Commands for the same stream in one process would
// otherwise race each other to the store and lose optimistic-concurrency
// rounds to their own neighbours; queued, they conflict only with other
// processes. A command that finishes hands the stream's state on to the
// next one in the queue, which then appends without reading the stream
// first. Streams with no command running cost nothing.
type streamQueue[T any] struct {
	mu    sync.Mutex
	slots map[string]*streamSlot[T]
}

type streamSlot[T any] struct {
	turn    chan struct{} // holds a token while a command runs
	waiters int           // commands holding or waiting for turn
	handoff T             // left by the last command to finish, if hasNext
	hasNext bool
}

// streamTurn is one command's turn on a stream.
type streamTurn[T any] struct {
	q        *streamQueue[T]
	streamID string
	slot     *streamSlot[T]
}

// acquire waits for streamID's turn or for ctx to end. On success the
// caller must call release exactly once.
func (q *streamQueue[T]) acquire(ctx context.Context, streamID string) (*streamTurn[T], error) {
	q.mu.Lock()
	if q.slots == nil {
		q.slots = make(map[string]*streamSlot[T])
	}
	s := q.slots[streamID]
	if s == nil {
		s = &streamSlot[T]{turn: make(chan struct{}, 1)}
		q.slots[streamID] = s
	}
	s.waiters++
	q.mu.Unlock()

	select {
	case s.turn <- struct{}{}:
		return &streamTurn[T]{q: q, streamID: streamID, slot: s}, nil
	case <-ctx.Done():
		q.leave(streamID, s)
		return nil, ctx.Err()
	}
}

// handoff returns what the previous command on the stream left, if it
// finished while this one waited.
func (t *streamTurn[T]) handoff() (T, bool) {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	v, ok := t.slot.handoff, t.slot.hasNext
	var zero T
	t.slot.handoff, t.slot.hasNext = zero, false
	return v, ok
}

// queued reports whether another command waits for the stream.
func (t *streamTurn[T]) queued() bool {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	return t.slot.waiters > 1
}

// release ends the turn, leaving next for the command after it when ok.
func (t *streamTurn[T]) release(next T, ok bool) {
	t.q.mu.Lock()
	if ok && t.slot.waiters > 1 {
		t.slot.handoff, t.slot.hasNext = next, true
	}
	t.q.mu.Unlock()
	<-t.slot.turn
	t.q.leave(t.streamID, t.slot)
}

func (q *streamQueue[T]) leave(streamID string, s *streamSlot[T]) {
	q.mu.Lock()
	s.waiters--
	if s.waiters == 0 {
		delete(q.slots, streamID)
	}
	q.mu.Unlock()
}
