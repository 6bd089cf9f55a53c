package commandtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// ProcessScenario is a given/then test of a process manager
// (command.Process): given these events, then it sends these commands. It
// runs the process for real, over an in-memory log, with a recorder in
// place of the command handlers. Build it with [ForProcess]; a
// ProcessScenario is for one goroutine.
//
// ThenSent also proves that the process is safe to replay: it runs the
// process a second time from the start of the log, as after a crash before
// a checkpoint, and requires the same commands under the same idempotency
// keys, each answered with its first outcome.
type ProcessScenario struct {
	t      testing.TB
	reg    *command.Registry
	build  func(command.ProcessConfig) (*command.Process, error)
	log    *sliceLog
	refuse func(cmd any) error
}

// ForProcess starts a scenario for the process that build returns. build
// gets a ProcessConfig whose Store, Registry, Commands and Checkpoints are
// the scenario's; it sets the Name and anything else, creates the Process
// and registers its handlers, as the application does.
func ForProcess(t testing.TB, reg *command.Registry, build func(command.ProcessConfig) (*command.Process, error)) *ProcessScenario {
	return &ProcessScenario{t: t, reg: reg, build: build, log: &sliceLog{}, refuse: func(any) error { return nil }}
}

// Given appends events, Go values encoded with the registry, to streamID.
func (s *ProcessScenario) Given(streamID string, events ...any) *ProcessScenario {
	s.t.Helper()
	for _, e := range events {
		ev, err := s.reg.Encode(e)
		if err != nil {
			s.t.Fatalf("commandtest: Given(%q): %v", streamID, err)
		}
		s.log.add(streamID, ev)
	}
	return s
}

// Refusing sets the outcome of every command the process sends: refuse
// returns nil to accept the command, or the domain error to refuse it with
// (the process sees it wrapped in a command.RejectedError). By default
// every command is accepted.
func (s *ProcessScenario) Refusing(refuse func(cmd any) error) *ProcessScenario {
	s.refuse = refuse
	return s
}

// ThenSent fails the test unless the process, given the events, sends
// exactly want, in order, and sends the same commands under the same keys
// when it handles the events again from the start.
func (s *ProcessScenario) ThenSent(want ...any) {
	s.t.Helper()
	rec := &recorder{refuse: s.refuse, outcomes: map[string]sentCommand{}}
	first := s.run(rec)
	if diff := cmp.Diff(want, commandsOf(first)); diff != "" {
		s.t.Errorf("commandtest: commands sent differ (-want +got):\n%s", diff)
		return
	}
	again := s.run(rec)
	if diff := cmp.Diff(first, again, cmp.AllowUnexported(sentCommand{})); diff != "" {
		s.t.Errorf("commandtest: handling the events again sent other commands or keys, so a replay would decide again (-first +replay):\n%s", diff)
	}
}

// run runs a fresh process from the start of the log until it has handled
// every event, and returns what it sent.
func (s *ProcessScenario) run(rec *recorder) []sentCommand {
	s.t.Helper()
	rec.reset()
	p, err := s.build(command.ProcessConfig{
		Store: s.log, Registry: s.reg, Commands: rec, Checkpoints: &mapCheckpoints{},
		PollInterval: time.Millisecond, MaxBackoff: time.Millisecond,
	})
	if err != nil {
		s.t.Fatalf("commandtest: build the process: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() { stop(); <-done }()
	last := s.log.last()
	for {
		st := p.Status()
		if f := st.Failing; f != nil {
			s.t.Fatalf("commandtest: process %s fails on event %q (stream %q): %s", p.Name(), f.Event.Type, f.Event.StreamID, f.Err)
		}
		if !st.Position.Before(last) {
			return rec.list()
		}
		select {
		case err := <-done:
			s.t.Fatalf("commandtest: process %s stopped: %v", p.Name(), err)
		case <-ctx.Done():
			s.t.Fatalf("commandtest: process %s did not handle the given events: %+v", p.Name(), st)
		case <-time.After(time.Millisecond):
		}
	}
}

type sentCommand struct {
	key     string
	command any
}

func commandsOf(sent []sentCommand) []any {
	out := make([]any, len(sent))
	for i, c := range sent {
		out[i] = c.command
	}
	return out
}

// recorder stands in for the command handlers: it records each command and
// answers a key it has seen with its first outcome, as a keyed store does.
type recorder struct {
	mu       sync.Mutex
	refuse   func(any) error
	sent     []sentCommand
	outcomes map[string]sentCommand
	refusals map[string]error
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.sent = nil
	r.mu.Unlock()
}

func (r *recorder) list() []sentCommand {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent)
}

func (r *recorder) Dispatch(ctx context.Context, cmd any) (command.Result, error) {
	key := command.IdempotencyKey(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sentCommand{key: key, command: cmd})
	if first, ok := r.outcomes[key]; ok {
		if !reflect.DeepEqual(first.command, cmd) {
			return command.Result{}, fmt.Errorf("commandtest: key %q was first used for %#v, now for %#v", key, first.command, cmd)
		}
		if err := r.refusals[key]; err != nil {
			return command.Result{}, &command.RejectedError{Err: err}
		}
		return command.Result{Replayed: true}, nil
	}
	r.outcomes[key] = sentCommand{key: key, command: cmd}
	if err := r.refuse(cmd); err != nil {
		if r.refusals == nil {
			r.refusals = map[string]error{}
		}
		r.refusals[key] = err
		return command.Result{}, &command.RejectedError{Err: err}
	}
	return command.Result{Events: 1}, nil
}

// sliceLog is the scenario's log: ReadAll over the given events.
type sliceLog struct {
	mu      sync.Mutex
	recs    []eventstore.Record
	version map[string]int64
}

var errScenarioLog = errors.New("commandtest: the scenario's log only supports ReadAll")

func (l *sliceLog) add(streamID string, ev eventstore.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.version == nil {
		l.version = map[string]int64{}
	}
	l.version[streamID]++
	n := uint64(len(l.recs) + 1)
	l.recs = append(l.recs, eventstore.Record{
		ID: eventstore.NewEventID(), StreamID: streamID, Type: ev.Type, Data: ev.Data, ContentType: ev.ContentType,
		Metadata: ev.Metadata, Version: l.version[streamID], Position: eventstore.Position{Commit: n, Sequence: n},
		RecordedAt: time.Now().UTC(),
	})
}

func (l *sliceLog) last() eventstore.Position {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recs) == 0 {
		return eventstore.Position{}
	}
	return l.recs[len(l.recs)-1].Position
}

func (l *sliceLog) Append(context.Context, string, eventstore.ExpectedVersion, []eventstore.Event) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, errScenarioLog
}

func (l *sliceLog) ReadStream(context.Context, string, int64, eventstore.Direction, int) ([]eventstore.Record, error) {
	return nil, errScenarioLog
}

func (l *sliceLog) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []eventstore.Record
	for _, r := range l.recs {
		if after.Before(r.Position) && (limit <= 0 || len(out) < limit) {
			out = append(out, r)
		}
	}
	return out, ctx.Err()
}

type mapCheckpoints struct {
	mu  sync.Mutex
	pos map[string]eventstore.Position
}

func (c *mapCheckpoints) Load(_ context.Context, name string) (eventstore.Position, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos[name], nil
}

func (c *mapCheckpoints) Save(_ context.Context, name string, pos eventstore.Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pos == nil {
		c.pos = map[string]eventstore.Position{}
	}
	if c.pos[name].Before(pos) {
		c.pos[name] = pos
	}
	return nil
}
