package command

// Decider is an aggregate in functional form: a state S built from past
// events E, and a decision that turns a command C and the current state into
// new events. Deciders are plain values with no I/O, which makes them easy to
// test (see package commandtest) and lets a [Handler] take care of loading,
// appending, retries and snapshots.
//
// C and E are usually interface types implemented by a family of command
// and event structs; a type switch in Decide and Evolve picks the case.
type Decider[S, C, E any] struct {
	// Initial returns the state of a stream with no events. Nil means the
	// zero value of S. It is a function, not a value, so that states holding
	// maps or slices are never shared between loads.
	Initial func() S

	// Evolve returns the state after event e. It must be pure and total:
	// an event that was stored happened, so Evolve should not fail; it
	// ignores events it does not care about. Evolve may modify and return
	// state, which belongs to the load in progress.
	Evolve func(state S, e E) S

	// Decide returns the events that handling cmd in state produces, in
	// order. An error is a domain error (for example "insufficient funds"):
	// nothing is appended and the Handler returns it to the caller
	// unchanged. No events and no error means the command changes nothing.
	// Decide must be pure: it may be called several times for one command
	// when concurrent writers force a retry.
	Decide func(cmd C, state S) ([]E, error)
}

// initial returns a fresh initial state.
func (d Decider[S, C, E]) initial() S {
	if d.Initial == nil {
		var zero S
		return zero
	}
	return d.Initial()
}

// Fold returns the state after the events, starting from the initial
// state. Tests and read-side code use it to rebuild a state in memory.
func (d Decider[S, C, E]) Fold(events ...E) S {
	s := d.initial()
	for _, e := range events {
		s = d.Evolve(s, e)
	}
	return s
}
