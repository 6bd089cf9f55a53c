package command

import (
	"container/list"
	"sync"
)

// stateCache keeps the state a Handler left each of the streams it handled
// last, up to max streams, the least recently used going first. A command
// for a cached stream decides on that state and appends at its version
// without reading the stream; the expected version catches a write made
// elsewhere meanwhile, and the command then reads the tail and decides
// again, as after any conflict.
type stateCache[T any] struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element // of *cached[T]
	order list.List                // most recently used first
}

type cached[T any] struct {
	streamID string
	value    T
}

func newStateCache[T any](max int) *stateCache[T] {
	return &stateCache[T]{max: max, items: make(map[string]*list.Element, max)}
}

// get returns the state cached for streamID.
func (c *stateCache[T]) get(streamID string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[streamID]
	if !ok {
		var zero T
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cached[T]).value, true
}

// put caches v as streamID's state, evicting the least recently used
// stream when full.
func (c *stateCache[T]) put(streamID string, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[streamID]; ok {
		e.Value.(*cached[T]).value = v
		c.order.MoveToFront(e)
		return
	}
	if c.order.Len() >= c.max {
		last := c.order.Back()
		delete(c.items, last.Value.(*cached[T]).streamID)
		c.order.Remove(last)
	}
	c.items[streamID] = c.order.PushFront(&cached[T]{streamID: streamID, value: v})
}

// drop forgets streamID's state.
func (c *stateCache[T]) drop(streamID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[streamID]; ok {
		delete(c.items, streamID)
		c.order.Remove(e)
	}
}
