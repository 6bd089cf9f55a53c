package command

import (
	"context"
	"fmt"
	"reflect"
	"sync"
)

// Dispatcher routes commands to handlers by their Go type. It is the
// in-process, synchronous way to send a command (for example from an HTTP
// handler) when the caller should not know which Handler owns it, and the
// table that transports such as adapters/watermillbus serve asynchronous
// commands from, so both paths run the same handlers and middleware.
//
// The zero Dispatcher is empty and ready to use. Add routes with [Route]
// at start-up; a Dispatcher is then safe for concurrent use.
type Dispatcher struct {
	mu     sync.RWMutex
	routes map[reflect.Type]func(context.Context, any) (Result, error)
	types  []reflect.Type
}

// Route makes d send commands of type C to handle. C must be a concrete
// type, and each type has one route. handle usually picks the stream from
// the command and calls a Handler:
//
//	command.Route(&d, func(ctx context.Context, c Deposit) (command.Result, error) {
//		return accounts.Handle(ctx, "account-"+c.AccountID, c)
//	})
func Route[C any](d *Dispatcher, handle func(ctx context.Context, cmd C) (Result, error)) error {
	t := reflect.TypeFor[C]()
	if t.Kind() == reflect.Interface {
		return fmt.Errorf("command: Route: %s is an interface type; route each concrete command type", t)
	}
	if handle == nil {
		return fmt.Errorf("command: Route %s: handle is nil", t)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.routes[t]; ok {
		return fmt.Errorf("command: Route: %s already has a route", t)
	}
	if d.routes == nil {
		d.routes = make(map[reflect.Type]func(context.Context, any) (Result, error))
	}
	d.routes[t] = func(ctx context.Context, cmd any) (Result, error) {
		return handle(ctx, cmd.(C))
	}
	d.types = append(d.types, t)
	return nil
}

// Dispatch handles cmd with the route for its dynamic type and returns that
// route's result and error unchanged. A type without a route fails with an
// error matching ErrNoRoute.
func (d *Dispatcher) Dispatch(ctx context.Context, cmd any) (Result, error) {
	t := reflect.TypeOf(cmd)
	d.mu.RLock()
	h, ok := d.routes[t]
	d.mu.RUnlock()
	if !ok {
		return Result{}, fmt.Errorf("%w %T", ErrNoRoute, cmd)
	}
	return h(ctx, cmd)
}

// CommandTypes returns the command types d has routes for, in the order
// they were added.
func (d *Dispatcher) CommandTypes() []reflect.Type {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return append([]reflect.Type(nil), d.types...)
}
