package mutants_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/eventstore/eventstoretest"
	"github.com/eventfold/eventfold/internal/mutants"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/projectiontest"
	"github.com/eventfold/eventfold/readmodel"
	"github.com/eventfold/eventfold/readmodel/readmodeltest"
)

// raceEnabled is set when the test binary is built with -race.
var raceEnabled bool

// envMutant names the store TestSuiteOnMutant runs its suite against.
const envMutant = "EVENTFOLD_MUTANT"

// allFeatures declares every capability memstore, and so every mutant
// built on it, has.
var allFeatures = eventstoretest.Features{Keyed: true, Outcomes: true, Head: true, Notify: true, Tenants: true, Filtered: true, Lifecycle: true, Reclaim: true, Archive: true}

// memstoreRuns are the reference stores, which must pass.
var memstoreRuns = []mutants.Mutant{
	{Name: "eventstore/memstore", Suite: mutants.EventStoreSuite},
	{Name: "readmodel/memstore", Suite: mutants.ReadModelSuite},
	{Name: "snapshots/memstore", Suite: mutants.SnapshotSuite},
	{Name: "keys/memstore", Suite: mutants.KeySuite},
	{Name: "source/memstore", Suite: mutants.SourceSuite},
}

// TestSuiteOnMutant runs one suite against the store named by
// EVENTFOLD_MUTANT; TestSuitesRejectMutants runs it in a child process for
// each store. Without the variable it runs every suite against the
// reference stores in this process.
func TestSuiteOnMutant(t *testing.T) {
	name := os.Getenv(envMutant)
	if name == "" {
		for _, m := range memstoreRuns {
			t.Run(m.Name, func(t *testing.T) { runMemstore(t, m.Suite) })
		}
		return
	}
	for _, m := range memstoreRuns {
		if m.Name == name {
			runMemstore(t, m.Suite)
			return
		}
	}
	if run, ok := bareRuns[name]; ok {
		run(t)
		return
	}
	m, ok := mutants.Find(name)
	if !ok {
		t.Fatalf("no mutant %q", name)
	}
	switch m.Suite {
	case mutants.EventStoreSuite:
		cfg := eventstoretest.Config{
			New:        func(t testing.TB) eventstore.Store { return m.NewEventStore() },
			Visibility: time.Second,
			Features:   allFeatures,
		}
		undeclare(&cfg.Features, m.Undeclared)
		if m.NewEventStore().HoldsAppends() {
			cfg.HoldAppend = holdAppend
		}
		eventstoretest.Run(t, cfg)
	case mutants.ReadModelSuite:
		_, spread := readmodel.As[readmodel.Partitioner](m.NewReadModels())
		readmodeltest.Run(t, readmodeltest.Config{New: func(t testing.TB) readmodel.Store { return m.NewReadModels() },
			Features: readmodeltest.Features{Partitioned: spread && m.Undeclared != "Partitioned"}})
	case mutants.SnapshotSuite:
		commandtest.RunSnapshotStore(t, commandtest.SnapshotConfig{Features: commandFeatures(m.Undeclared),
			New: func(t testing.TB) command.SnapshotStore { return m.NewSnapshots() }})
	case mutants.KeySuite:
		commandtest.RunKeyStore(t, commandtest.KeyConfig{Features: commandFeatures(m.Undeclared),
			New: func(t testing.TB) command.KeyStore { return m.NewKeys() }})
	case mutants.SourceSuite:
		projectiontest.RunSource(t, projectiontest.SourceConfig{Timeout: 5 * time.Second,
			Features: projectiontest.SourceFeatures{Head: m.Undeclared != "Head"},
			New:      func(t testing.TB) (eventstore.Store, projection.Source) { return m.NewSource() }})
	}
}

// holdAppend is eventstoretest.Config.HoldAppend for the mutants whose
// appends finish in two phases.
func holdAppend(t testing.TB, s eventstore.Store, stream string, events []eventstore.Event) (eventstore.AppendResult, func()) {
	t.Helper()
	res, commit, err := s.(*mutants.EventStore).HoldAppend(t.Context(), stream, events)
	if err != nil {
		t.Fatal(err)
	}
	return res, commit
}

// undeclare clears the feature named field.
func undeclare(f *eventstoretest.Features, field string) {
	switch field {
	case "Keyed":
		f.Keyed = false
	case "Outcomes":
		f.Outcomes = false
	case "Head":
		f.Head = false
	case "Notify":
		f.Notify = false
	case "Tenants":
		f.Tenants = false
	case "Filtered":
		f.Filtered = false
	case "Lifecycle":
		f.Lifecycle = false
	case "Reclaim":
		f.Reclaim = false
	case "Archive":
		f.Archive = false
	}
}

// commandFeatures declares every capability of memstore's snapshot and key
// stores except the one named undeclared.
func commandFeatures(undeclared string) commandtest.Features {
	return commandtest.Features{Tenants: undeclared != "Tenants"}
}

// bareRuns run a suite on a memstore store with every capability hidden,
// with the features they declare.
var bareRuns = map[string]func(t *testing.T){
	"eventstore/bare":          func(t *testing.T) { runBareEventStore(t, eventstoretest.Features{}) },
	"eventstore/bare-declared": func(t *testing.T) { runBareEventStore(t, eventstoretest.Features{Head: true}) },
	"readmodel/bare":           func(t *testing.T) { runBareReadModels(t, readmodeltest.Features{}) },
	"readmodel/bare-declared":  func(t *testing.T) { runBareReadModels(t, readmodeltest.Features{Partitioned: true}) },
	"snapshots/bare":           func(t *testing.T) { runBareSnapshots(t, commandtest.Features{}) },
	"snapshots/bare-declared":  func(t *testing.T) { runBareSnapshots(t, commandtest.Features{Tenants: true}) },
	"keys/bare":                func(t *testing.T) { runBareKeys(t, commandtest.Features{}) },
	"keys/bare-declared":       func(t *testing.T) { runBareKeys(t, commandtest.Features{Tenants: true}) },
	"source/bare":              func(t *testing.T) { runBareSource(t, projectiontest.SourceFeatures{}) },
	"source/bare-declared":     func(t *testing.T) { runBareSource(t, projectiontest.SourceFeatures{Head: true}) },
}

func runBareEventStore(t *testing.T, f eventstoretest.Features) {
	eventstoretest.Run(t, eventstoretest.Config{Visibility: time.Second, Features: f,
		New: func(t testing.TB) eventstore.Store { return struct{ eventstore.Store }{memstore.New(nil)} }})
}

func runBareReadModels(t *testing.T, f readmodeltest.Features) {
	readmodeltest.Run(t, readmodeltest.Config{Features: f,
		New: func(t testing.TB) readmodel.Store { return memstore.NewReadModels(nil) }})
}

func runBareSnapshots(t *testing.T, f commandtest.Features) {
	commandtest.RunSnapshotStore(t, commandtest.SnapshotConfig{Features: f,
		New: func(t testing.TB) command.SnapshotStore {
			return struct{ command.SnapshotStore }{memstore.NewSnapshots(nil)}
		}})
}

func runBareKeys(t *testing.T, f commandtest.Features) {
	commandtest.RunKeyStore(t, commandtest.KeyConfig{Features: f,
		New: func(t testing.TB) command.KeyStore { return struct{ command.KeyStore }{memstore.NewKeys(nil)} }})
}

func runBareSource(t *testing.T, f projectiontest.SourceFeatures) {
	projectiontest.RunSource(t, projectiontest.SourceConfig{Timeout: 5 * time.Second, Features: f,
		New: func(t testing.TB) (eventstore.Store, projection.Source) {
			store := memstore.New(nil)
			return store, projection.LogSource(struct{ eventstore.Store }{store}, nil)
		}})
}

// A store with no capabilities passes each suite that declares none,
// which says which areas it skips; declaring a capability it lacks fails,
// naming the feature.
func TestFeatureDeclarations(t *testing.T) {
	if os.Getenv(envMutant) != "" {
		t.Skip("runs in the parent process only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ suite, skipped, declared string }{
		{"eventstore", "Features.Tenants not declared: eventstore.TenantScoper not checked", "Features.Head is declared but"},
		{"readmodel", "Features.Partitioned not declared: readmodel.Partitioner not checked", "Features.Partitioned is declared but"},
		{"snapshots", "Features.Tenants not declared: command.SnapshotTenantScoper not checked", "Features.Tenants is declared but"},
		{"keys", "Features.Tenants not declared: command.KeyTenantScoper not checked", "Features.Tenants is declared but"},
		{"source", "Features.Head not declared: eventstore.HeadReader not checked", "Features.Head is declared but"},
	} {
		t.Run(c.suite, func(t *testing.T) {
			t.Parallel()
			out, err := runChild(t.Context(), exe, c.suite+"/bare", "-test.v")
			if err != nil || !strings.Contains(out, c.skipped) {
				t.Errorf("the %s suite on a bare store ended with %v; want a pass that logs %q:\n%s", c.suite, err, c.skipped, lastLines(out, 20))
			}
			out, err = runChild(t.Context(), exe, c.suite+"/bare-declared")
			if err == nil || !strings.Contains(out, c.declared) {
				t.Errorf("the %s suite on a bare store declaring a capability ended with %v; want a failure saying %q:\n%s", c.suite, err, c.declared, lastLines(out, 20))
			}
		})
	}
}

// A capability the store has but the suite's Config does not declare fails
// the suite with a message naming it.
func TestUndeclaredCapabilityIsNamed(t *testing.T) {
	if os.Getenv(envMutant) != "" {
		t.Skip("runs in the parent process only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mutants.All() {
		if m.Undeclared == "" {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			out, err := runChild(t.Context(), exe, m.Name)
			want := "Features." + m.Undeclared + " is not declared"
			if err == nil || !strings.Contains(out, want) {
				t.Errorf("the suite on %s ended with %v; want a failure saying %q:\n%s", m.Name, err, want, lastLines(out, 20))
			}
		})
	}
}

func runMemstore(t *testing.T, suite mutants.Suite) {
	switch suite {
	case mutants.EventStoreSuite:
		eventstoretest.Run(t, eventstoretest.Config{
			New:        func(t testing.TB) eventstore.Store { return memstore.New(nil) },
			Visibility: time.Second,
			Features:   allFeatures,
		})
	case mutants.ReadModelSuite:
		readmodeltest.Run(t, readmodeltest.Config{New: func(t testing.TB) readmodel.Store { return memstore.NewReadModels(nil) }})
	case mutants.SnapshotSuite:
		commandtest.RunSnapshotStore(t, commandtest.SnapshotConfig{Features: commandFeatures(""),
			New: func(t testing.TB) command.SnapshotStore { return memstore.NewSnapshots(nil) }})
	case mutants.KeySuite:
		commandtest.RunKeyStore(t, commandtest.KeyConfig{Features: commandFeatures(""),
			New: func(t testing.TB) command.KeyStore { return memstore.NewKeys(nil) }})
	case mutants.SourceSuite:
		projectiontest.RunSource(t, projectiontest.SourceConfig{Timeout: 5 * time.Second,
			Features: projectiontest.SourceFeatures{Head: true},
			New: func(t testing.TB) (eventstore.Store, projection.Source) {
				store := memstore.New(nil)
				return store, projection.LogSource(store, nil)
			}})
	}
}

// TestSuitesRejectMutants runs each suite, in a child process of this test
// binary, against memstore and the unbroken wrappers and copies, which
// must pass, and against every mutant, which must fail without running
// into the child's timeout: a suite that waits forever on a broken store
// tells its author nothing.
func TestSuitesRejectMutants(t *testing.T) {
	if os.Getenv(envMutant) != "" {
		t.Skip("in a child process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	all := mutants.All()
	var rejected atomic.Int32
	t.Run("group", func(t *testing.T) {
		for _, m := range append(append(memstoreRuns, mutants.Unbroken()...), all...) {
			broken := m.Breaks != ""
			t.Run(m.Name, func(t *testing.T) {
				if m.NeedsRace && !raceEnabled {
					t.Skipf("%s %s: only the race detector sees that; run with -race", m.Name, m.Breaks)
				}
				t.Parallel()
				out, err := runChild(t.Context(), exe, m.Name)
				var exit *exec.ExitError
				switch {
				case err != nil && !errors.As(err, &exit):
					t.Fatalf("running %s for %s: %v", exe, m.Name, err)
				case !broken && err != nil:
					t.Errorf("%s fails its suite (%v):\n%s", m.Name, err, out)
				case broken && err == nil:
					t.Errorf("the %s suite passes %s, which %s", m.Suite, m.Name, m.Breaks)
				case broken && strings.Contains(out, "panic: test timed out"):
					t.Errorf("the %s suite ran into the timeout on %s, which %s; it must fail with a message instead:\n%s", m.Suite, m.Name, m.Breaks, lastLines(out, 30))
				case broken:
					rejected.Add(1)
				}
			})
		}
	})
	needRace := 0
	for _, m := range all {
		if m.NeedsRace && !raceEnabled {
			needRace++
		}
	}
	t.Logf("the suites reject %d of the %d mutants run; %d more need -race", rejected.Load(), len(all)-needRace, needRace)
}

// runChild runs TestSuiteOnMutant for the named store and returns its
// output and how it ended.
func runChild(ctx context.Context, exe, name string, flags ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := append([]string{"-test.run=^TestSuiteOnMutant$", "-test.count=1", "-test.timeout=60s"}, flags...)
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), envMutant+"="+name)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
