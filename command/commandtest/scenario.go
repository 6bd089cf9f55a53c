package commandtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/google/go-cmp/cmp"
)

// Scenario is one given/when/then test of a Decider. Build it with [For],
// then call Given, When and one of the Then methods, which check the
// outcome and report a failure on the test. A Scenario is for one
// goroutine.
type Scenario[S, C, E any] struct {
	t       testing.TB
	decider command.Decider[S, C, E]
	given   []E
	cmd     C
	hasCmd  bool
	reg     *command.Registry
	opts    []cmp.Option
}

// For starts a scenario for decider. Its state starts as Decider.Initial.
func For[S, C, E any](t testing.TB, decider command.Decider[S, C, E]) *Scenario[S, C, E] {
	t.Helper()
	if decider.Evolve == nil || decider.Decide == nil {
		t.Fatalf("commandtest.For: Decider.Evolve and Decider.Decide must be set")
	}
	return &Scenario[S, C, E]{t: t, decider: decider}
}

// WithRegistry makes the scenario also check that every given and produced
// event survives the registry: it is registered, and encoding then decoding
// it gives an equal value. This catches unregistered types and fields the
// codec drops before they reach a store.
func (s *Scenario[S, C, E]) WithRegistry(reg *command.Registry) *Scenario[S, C, E] {
	s.reg = reg
	return s
}

// WithOptions adds go-cmp options used to compare events and states, for
// example cmpopts.IgnoreFields for generated IDs or timestamps.
func (s *Scenario[S, C, E]) WithOptions(opts ...cmp.Option) *Scenario[S, C, E] {
	s.opts = append(s.opts, opts...)
	return s
}

// Given records past events of the stream, oldest first. It may be called
// several times; no call means a new stream.
func (s *Scenario[S, C, E]) Given(events ...E) *Scenario[S, C, E] {
	s.given = append(s.given, events...)
	return s
}

// When sets the command to decide.
func (s *Scenario[S, C, E]) When(cmd C) *Scenario[S, C, E] {
	s.cmd, s.hasCmd = cmd, true
	return s
}

// Then checks that the command succeeds and produces exactly want, in
// order. Then() with no arguments checks that the command changes nothing.
func (s *Scenario[S, C, E]) Then(want ...E) {
	s.t.Helper()
	got, err := s.decide()
	if err != nil {
		s.t.Errorf("%s: got error %v, want %d event(s)", s.describe(), err, len(want))
		return
	}
	if len(want) == 0 {
		want = nil
	}
	if len(got) == 0 {
		got = nil
	}
	if diff := cmp.Diff(want, got, s.opts...); diff != "" {
		s.t.Errorf("%s: events mismatch (-want +got):\n%s", s.describe(), diff)
	}
	s.checkRegistry(got)
}

// ThenError checks that the command fails with an error matching target
// (errors.Is) and produces no events.
func (s *Scenario[S, C, E]) ThenError(target error) {
	s.t.Helper()
	got, err := s.decide()
	switch {
	case err == nil:
		s.t.Errorf("%s: got %d event(s) and no error, want error %v; events:\n%s", s.describe(), len(got), target, format(got))
	case !errors.Is(err, target):
		s.t.Errorf("%s: got error %v, want error %v", s.describe(), err, target)
	case len(got) > 0:
		s.t.Errorf("%s: got error %v and %d event(s), want no events with an error", s.describe(), err, len(got))
	}
}

// ThenState checks that the command succeeds and that the state after the
// given and the produced events equals want.
func (s *Scenario[S, C, E]) ThenState(want S) {
	s.t.Helper()
	got, err := s.decide()
	if err != nil {
		s.t.Errorf("%s: got error %v, want success", s.describe(), err)
		return
	}
	state := s.decider.Fold(append(append([]E(nil), s.given...), got...)...)
	if diff := cmp.Diff(want, state, s.opts...); diff != "" {
		s.t.Errorf("%s: state mismatch (-want +got):\n%s", s.describe(), diff)
	}
	s.checkRegistry(got)
}

func (s *Scenario[S, C, E]) decide() ([]E, error) {
	s.t.Helper()
	if !s.hasCmd {
		s.t.Fatalf("commandtest: When was not called before Then")
	}
	s.checkRegistry(s.given)
	return s.decider.Decide(s.cmd, s.decider.Fold(s.given...))
}

func (s *Scenario[S, C, E]) describe() string {
	return fmt.Sprintf("given %d event(s), when %#v", len(s.given), s.cmd)
}

func (s *Scenario[S, C, E]) checkRegistry(events []E) {
	s.t.Helper()
	if s.reg == nil {
		return
	}
	for i, e := range events {
		ev, err := s.reg.Encode(e)
		if err != nil {
			s.t.Errorf("%s: event %d (%T): %v", s.describe(), i, e, err)
			continue
		}
		back, err := s.reg.Decode(eventstore.Record{Type: ev.Type, Data: ev.Data, ContentType: ev.ContentType, Metadata: ev.Metadata, StreamID: "commandtest", Version: int64(i + 1)})
		if err != nil {
			s.t.Errorf("%s: event %d (%T) does not decode: %v", s.describe(), i, e, err)
			continue
		}
		if diff := cmp.Diff(any(e), back, s.opts...); diff != "" {
			s.t.Errorf("%s: event %d (%T) changes through the registry's codec (-before +after):\n%s", s.describe(), i, e, diff)
		}
	}
}

func format[E any](events []E) string {
	var b strings.Builder
	for i, e := range events {
		fmt.Fprintf(&b, "\t%d: %#v\n", i, e)
	}
	return b.String()
}
