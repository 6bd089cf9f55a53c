package memstore

import (
	"context"
	"sync"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

var _ command.Checkpoints = (*Checkpoints)(nil)

// Checkpoints stores named log positions in memory, as pgstore.Checkpoints
// does in PostgreSQL: a position never moves backwards.
type Checkpoints struct {
	mu  sync.Mutex
	pos map[string]eventstore.Position
}

// NewCheckpoints returns an empty checkpoint store.
func NewCheckpoints() *Checkpoints {
	return &Checkpoints{pos: map[string]eventstore.Position{}}
}

// Load returns the position saved under name, or the zero Position.
func (c *Checkpoints) Load(ctx context.Context, name string) (eventstore.Position, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Position{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos[name], nil
}

// Save stores pos under name unless a later position is stored.
func (c *Checkpoints) Save(ctx context.Context, name string, pos eventstore.Position) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pos[name].Compare(pos) < 0 {
		c.pos[name] = pos
	}
	return nil
}
