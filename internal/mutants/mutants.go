package mutants

import (
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/readmodel"
)

// Suite names a conformance suite.
type Suite string

// The suites the mutants are run against.
const (
	EventStoreSuite Suite = "eventstore"
	ReadModelSuite  Suite = "readmodel"
	SnapshotSuite   Suite = "snapshots"
	KeySuite        Suite = "keys"
	SourceSuite     Suite = "source"
)

// Mutant is one broken store.
type Mutant struct {
	// Name identifies the mutant, prefixed by its suite.
	Name string
	// Suite is the suite that must reject it.
	Suite Suite
	// Breaks says what the mutant does wrong.
	Breaks string
	// Undeclared names the eventstoretest.Features field the event store
	// suite runs without, although the store has that capability.
	Undeclared string
	// NeedsRace marks a bug (an unsynchronised read) that only the race
	// detector sees: the suite rejects it when built with -race.
	NeedsRace bool
}

// NewEventStore returns a fresh event store with m's bug.
func (m Mutant) NewEventStore() *EventStore { return newEventStore(m.Name) }

// NewReadModels returns a fresh read-model store with m's bug.
func (m Mutant) NewReadModels() readmodel.Store { return newReadModels(m.Name) }

// NewSnapshots returns a fresh snapshot store with m's bug.
func (m Mutant) NewSnapshots() command.SnapshotStore { return newSnapshots(m.Name) }

// NewKeys returns a fresh key store with m's bug.
func (m Mutant) NewKeys() command.KeyStore { return newKeys(m.Name) }

// Unbroken returns, for each suite, the wrapper or copy with no bug: each
// must pass its suite, or the mutants built on it prove nothing.
func Unbroken() []Mutant {
	return []Mutant{
		{Name: "eventstore/none", Suite: EventStoreSuite},
		{Name: "readmodel/none", Suite: ReadModelSuite},
		{Name: "snapshots/none", Suite: SnapshotSuite},
		{Name: "keys/none", Suite: KeySuite},
		{Name: "source/none", Suite: SourceSuite},
	}
}

// All returns every mutant.
func All() []Mutant {
	var all []Mutant
	for _, list := range []struct {
		suite Suite
		bugs  []bug
	}{{EventStoreSuite, eventStoreBugs}, {ReadModelSuite, readModelBugs}, {SnapshotSuite, snapshotBugs}, {KeySuite, keyBugs}, {SourceSuite, sourceBugs}} {
		for _, b := range list.bugs {
			all = append(all, Mutant{Name: string(list.suite) + "/" + b.name, Suite: list.suite, Breaks: b.breaks,
				Undeclared: b.undeclared, NeedsRace: b.needsRace})
		}
	}
	return all
}

// bug is one way to break a store.
type bug struct {
	name, breaks string
	undeclared   string
	needsRace    bool
}

// Find returns the mutant or unbroken store called name.
func Find(name string) (Mutant, bool) {
	for _, m := range append(Unbroken(), All()...) {
		if m.Name == name {
			return m, true
		}
	}
	return Mutant{}, false
}

var _ eventstore.Store = (*EventStore)(nil)
