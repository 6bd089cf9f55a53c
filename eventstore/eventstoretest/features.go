package eventstoretest

import (
	"testing"
	"time"

	"github.com/eventfold/eventfold/eventstore"
)

// Features declares the optional capabilities of the store under test
// (see eventstore.As). The suite checks every declared feature and fails
// when the store lacks one; it fails, naming the field, when the store has
// a capability that is not declared; and it logs each area it skips
// because its feature is not declared.
type Features struct {
	// Keyed declares eventstore.KeyedAppender: command keys.
	Keyed bool
	// Outcomes declares eventstore.OutcomeStore: the first outcome of each
	// command key, refusals included. It needs Keyed.
	Outcomes bool
	// Head declares eventstore.HeadReader on the store and on its views.
	Head bool
	// Notify declares eventstore.Notifier: Changed wakes tailers after an
	// append.
	Notify bool
	// Tenants declares eventstore.TenantScoper: tenant views, whose
	// isolation the suite checks through every call of the port.
	Tenants bool
	// Filtered declares eventstore.FilteredReader: reads of the log
	// filtered by type and stream prefix, gap-safe (past an append held
	// open when Config.HoldAppend is set), on the store and on its views.
	Filtered bool
	// Lifecycle declares eventstore.StreamLifecycle: deletes,
	// truncations and retention (with Tenants, that they respect tenants).
	Lifecycle bool
	// Reclaim declares eventstore.Reclaimer: reclaiming what no read
	// returns. It needs Lifecycle.
	Reclaim bool
	// Archive declares eventstore.StreamArchiver: archiving finished
	// streams (with Tenants, that it respects tenants). It needs
	// Lifecycle.
	Archive bool
}

// capabilities lists every optional capability of the port with the
// feature that declares it. A new capability adds one line here and its
// tests to Run.
var capabilities = []struct {
	field, iface string
	declared     func(Features) bool
	has          func(eventstore.Store) bool
}{
	{"Keyed", "eventstore.KeyedAppender", func(f Features) bool { return f.Keyed }, has[eventstore.KeyedAppender]},
	{"Outcomes", "eventstore.OutcomeStore", func(f Features) bool { return f.Outcomes }, has[eventstore.OutcomeStore]},
	{"Head", "eventstore.HeadReader", func(f Features) bool { return f.Head }, has[eventstore.HeadReader]},
	{"Notify", "eventstore.Notifier", func(f Features) bool { return f.Notify }, has[eventstore.Notifier]},
	{"Tenants", "eventstore.TenantScoper", func(f Features) bool { return f.Tenants }, has[eventstore.TenantScoper]},
	{"Filtered", "eventstore.FilteredReader", func(f Features) bool { return f.Filtered }, has[eventstore.FilteredReader]},
	{"Lifecycle", "eventstore.StreamLifecycle", func(f Features) bool { return f.Lifecycle }, has[eventstore.StreamLifecycle]},
	{"Reclaim", "eventstore.Reclaimer", func(f Features) bool { return f.Reclaim }, has[eventstore.Reclaimer]},
	{"Archive", "eventstore.StreamArchiver", func(f Features) bool { return f.Archive }, has[eventstore.StreamArchiver]},
}

func has[T any](s eventstore.Store) bool {
	_, ok := eventstore.As[T](s)
	return ok
}

// checkFeatures compares what cfg declares with what a fresh store has.
func checkFeatures(t *testing.T, cfg Config) {
	s := cfg.New(t)
	for _, c := range capabilities {
		declared, has := c.declared(cfg.Features), c.has(s)
		switch {
		case declared && !has:
			t.Errorf("eventstoretest: Features.%s is declared but %T has no %s", c.field, s, c.iface)
		case !declared && has:
			t.Errorf("eventstoretest: %T has %s but Features.%s is not declared; declare it so that the suite checks it", s, c.iface, c.field)
		case !declared:
			t.Logf("eventstoretest: Features.%s not declared: %s not checked", c.field, c.iface)
		}
	}
	if cfg.Features.Outcomes && !cfg.Features.Keyed {
		t.Errorf("eventstoretest: Features.Outcomes needs Features.Keyed")
	}
	if cfg.Features.Reclaim && !cfg.Features.Lifecycle {
		t.Errorf("eventstoretest: Features.Reclaim needs Features.Lifecycle")
	}
	if cfg.Features.Archive && !cfg.Features.Lifecycle {
		t.Errorf("eventstoretest: Features.Archive needs Features.Lifecycle")
	}
}

// featureTests are the tests of each feature, run when it is declared.
func featureTests(f Features) []suiteTest {
	var tests []suiteTest
	if f.Keyed {
		tests = append(tests, suiteTest{"Append/CommandKey", testCommandKey})
	}
	if f.Outcomes {
		tests = append(tests,
			suiteTest{"CommandOutcome/Appended", testOutcomeAppended},
			suiteTest{"CommandOutcome/Refused", testOutcomeRefused},
			suiteTest{"CommandOutcome/InvalidInput", testOutcomeInvalid},
			suiteTest{"CommandOutcome/Race", testOutcomeRace})
	}
	if f.Head {
		tests = append(tests, suiteTest{"Head/LastPosition", testHead})
	}
	if f.Notify {
		tests = append(tests, suiteTest{"Notify/WakesOnAppend", testNotify})
	}
	if f.Tenants {
		tests = append(tests, tenantTests...)
	}
	if f.Filtered {
		tests = append(tests, filterTests...)
		if f.Tenants {
			tests = append(tests, suiteTest{"ReadAllFiltered/Tenants", testFilterTenants})
		}
	}
	if f.Lifecycle {
		tests = append(tests, lifecycleTests...)
		if f.Tenants {
			tests = append(tests, lifecycleTenantTests...)
		}
	}
	if f.Reclaim {
		tests = append(tests, suiteTest{"Lifecycle/Reclaim", testReclaim})
	}
	if f.Lifecycle && f.Filtered {
		tests = append(tests, suiteTest{"Lifecycle/FilteredAfterHardDelete", testFilteredAfterHardDelete})
	}
	if f.Archive {
		tests = append(tests, archiveTests...)
		if f.Tenants {
			tests = append(tests, suiteTest{"Archive/Tenants", testArchiveTenants})
		}
	}
	return tests
}

// capability returns the capability T of s, failing the test when s lacks
// it.
func capability[T any](t *testing.T, s eventstore.Store) T {
	t.Helper()
	c, ok := eventstore.As[T](s)
	if !ok {
		var zero *T
		t.Fatalf("%T has no %T", s, zero)
	}
	return c
}

// Head is the zero Position on an empty store, and the position of the
// last event once the events are visible.
func testHead(t *testing.T, cfg Config) {
	s := cfg.New(t)
	h := capability[eventstore.HeadReader](t, s)
	if p, err := h.Head(ctxFor(t)); err != nil || !p.IsZero() {
		t.Errorf("Head of an empty store = %v, %v; want the zero Position", p, err)
	}
	mustAppend(t, s, "a", eventstore.NoStream, jsonEvent("A", 1))
	last := mustAppend(t, s, "b", eventstore.NoStream, jsonEvent("B", 1), jsonEvent("B", 2))
	readAllUntil(t, cfg, s, 3)
	if p, err := h.Head(ctxFor(t)); err != nil || p != last.Position {
		t.Errorf("Head = %v, %v; want the last event's position %v", p, err, last.Position)
	}
}

// The channel Changed returns is closed by the next append.
func testNotify(t *testing.T, cfg Config) {
	s := cfg.New(t)
	changed := capability[eventstore.Notifier](t, s).Changed()
	select {
	case <-changed:
		t.Fatal("Changed is closed before any append")
	default:
	}
	mustAppend(t, s, "a", eventstore.NoStream, jsonEvent("A", 1))
	select {
	case <-changed:
	case <-time.After(cfg.Visibility):
		t.Errorf("Changed is still open %s after an append", cfg.Visibility)
	}
}
