package eventstoretest

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/eventstore"
)

// outcomeStore returns the eventstore.OutcomeStore of s, failing the test
// when s has none.
func outcomeStore(t *testing.T, s eventstore.Store) (eventstore.OutcomeStore, bool) {
	t.Helper()
	return capability[eventstore.OutcomeStore](t, s), true
}

const (
	hashA = "a3f1c9d2e4b5a6978877665544332211a3f1c9d2e4b5a6978877665544332211"
	hashB = "b3f1c9d2e4b5a6978877665544332211a3f1c9d2e4b5a6978877665544332211"
)

// A command key remembers its first outcome, an append: every later call
// with the key stores nothing and returns it, and a different command
// (another known hash) fails with ErrKeyReused.
func testOutcomeAppended(t *testing.T, cfg Config) {
	s := cfg.New(t)
	o, ok := outcomeStore(t, s)
	if !ok {
		return
	}
	ctx := ctxFor(t)
	if rec, ok, err := o.LookupKey(ctx, "cmd-1"); ok || err != nil {
		t.Fatalf("LookupKey of an unknown key = %+v, %v, %v; want not found", rec, ok, err)
	}
	key := eventstore.CommandKey{Key: "cmd-1", Hash: hashA}
	first, err := o.AppendCommand(ctx, key, "acct", eventstore.NoStream, []eventstore.Event{jsonEvent("A", 1)})
	if err != nil || first.Result.Replayed || first.Refusal != nil || first.Hash != hashA || first.Result.StreamVersion != 1 {
		t.Fatalf("AppendCommand = %+v, %v; want a fresh append at version 1 with hash A", first, err)
	}
	want := first
	want.Result.Replayed = true
	got, ok, err := o.LookupKey(ctx, "cmd-1")
	if err != nil || !ok {
		t.Fatalf("LookupKey = %v, %v; want found", ok, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LookupKey record mismatch (-want +got):\n%s", diff)
	}
	// The same command again, at a stale version, or with an unknown hash.
	for _, k := range []eventstore.CommandKey{key, {Key: "cmd-1"}} {
		again, err := o.AppendCommand(ctx, k, "acct", eventstore.NoStream, []eventstore.Event{jsonEvent("A", 2)})
		if err != nil || cmp.Diff(want, again) != "" {
			t.Errorf("AppendCommand again with hash %q = %+v, %v; want %+v", k.Hash, again, err, want)
		}
	}
	again, err := o.RecordRefusal(ctx, key, "acct", eventstore.Refusal{Code: "late", Message: "refused later"})
	if err != nil || cmp.Diff(want, again) != "" {
		t.Errorf("RecordRefusal after the append = %+v, %v; want the append %+v", again, err, want)
	}
	if res, err := o.AppendKeyed(ctx, "cmd-1", "acct", eventstore.NoStream, []eventstore.Event{jsonEvent("A", 3)}); err != nil || res != want.Result {
		t.Errorf("AppendKeyed on the key = %+v, %v; want %+v", res, err, want.Result)
	}
	checkKeyReused(t, o, eventstore.CommandKey{Key: "cmd-1", Hash: hashB}, "acct")
	if n := len(readStream(t, s, "acct")); n != 1 {
		t.Errorf("stream has %d events, want 1", n)
	}
	// A key recorded without a hash (by AppendKeyed, or before the store
	// kept hashes) is taken for any command.
	plain, err := o.AppendKeyed(ctx, "cmd-plain", "acct", eventstore.Exact(1), []eventstore.Event{jsonEvent("A", 4)})
	if err != nil {
		t.Fatal(err)
	}
	for _, hash := range []string{hashA, hashB} {
		k := eventstore.CommandKey{Key: "cmd-plain", Hash: hash}
		got, err := o.AppendCommand(ctx, k, "acct", eventstore.Any, []eventstore.Event{jsonEvent("A", 5)})
		if err != nil || !got.Result.Replayed || got.Result.Position != plain.Position || got.Hash != "" {
			t.Errorf("AppendCommand with hash on a key without one = %+v, %v; want a replay of %+v", got, err, plain)
		}
		if got, err := o.RecordRefusal(ctx, k, "acct", eventstore.Refusal{Message: "no"}); err != nil || got.Refusal != nil || got.Result.Position != plain.Position {
			t.Errorf("RecordRefusal with hash on a key without one = %+v, %v; want the append %+v", got, err, plain)
		}
	}
}

// A command key remembers its first outcome, a refusal, identically: every
// later call with the key stores nothing and returns it, and a different
// command fails with ErrKeyReused.
func testOutcomeRefused(t *testing.T, cfg Config) {
	s := cfg.New(t)
	o, ok := outcomeStore(t, s)
	if !ok {
		return
	}
	ctx := ctxFor(t)
	mustAppend(t, s, "acct", eventstore.NoStream, jsonEvent("Opened", 1))
	key := eventstore.CommandKey{Key: "cmd-2", Hash: hashA}
	refusal := eventstore.Refusal{Code: "insufficient_funds", Message: "withdrawal of 6 would exceed the limit: ünïcødé 🙂 '; --"}
	first, err := o.RecordRefusal(ctx, key, "acct", refusal)
	wantFirst := eventstore.KeyRecord{Hash: hashA, Refusal: &refusal}
	if err != nil || cmp.Diff(wantFirst, first) != "" {
		t.Fatalf("RecordRefusal = %+v, %v; want %+v", first, err, wantFirst)
	}
	want := wantFirst
	want.Result.Replayed = true
	if got, ok, err := o.LookupKey(ctx, "cmd-2"); err != nil || !ok || cmp.Diff(want, got) != "" {
		t.Errorf("LookupKey = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	other := eventstore.Refusal{Code: "other", Message: "decided differently later"}
	if got, err := o.RecordRefusal(ctx, key, "acct", other); err != nil || cmp.Diff(want, got) != "" {
		t.Errorf("RecordRefusal again = %+v, %v; want the first refusal %+v", got, err, want)
	}
	for _, k := range []eventstore.CommandKey{key, {Key: "cmd-2"}} {
		got, err := o.AppendCommand(ctx, k, "acct", eventstore.Exact(1), []eventstore.Event{jsonEvent("Withdrawn", 6)})
		if err != nil || cmp.Diff(want, got) != "" {
			t.Errorf("AppendCommand with hash %q after the refusal = %+v, %v; want the refusal %+v", k.Hash, got, err, want)
		}
	}
	if res, err := o.AppendKeyed(ctx, "cmd-2", "acct", eventstore.Exact(1), []eventstore.Event{jsonEvent("Withdrawn", 6)}); !errors.Is(err, eventstore.ErrKeyRefused) {
		t.Errorf("AppendKeyed on a refused key = %+v, %v; want ErrKeyRefused", res, err)
	}
	checkKeyReused(t, o, eventstore.CommandKey{Key: "cmd-2", Hash: hashB}, "acct")
	if n := len(readStream(t, s, "acct")); n != 1 {
		t.Errorf("stream has %d events, want 1 (nothing appended after the refusal)", n)
	}
}

// checkKeyReused checks that key, whose hash differs from the recorded
// one, fails every call that would record with ErrKeyReused naming the key
// and stores nothing.
func checkKeyReused(t *testing.T, o eventstore.OutcomeStore, key eventstore.CommandKey, stream string) {
	t.Helper()
	ctx := ctxFor(t)
	before, _, err := o.LookupKey(ctx, key.Key)
	if err != nil {
		t.Fatal(err)
	}
	_, errAppend := o.AppendCommand(ctx, key, stream, eventstore.Any, []eventstore.Event{jsonEvent("Other", 1)})
	_, errRefuse := o.RecordRefusal(ctx, key, stream, eventstore.Refusal{Code: "other", Message: "other"})
	for name, err := range map[string]error{"AppendCommand": errAppend, "RecordRefusal": errRefuse} {
		var kr *eventstore.KeyReusedError
		if !errors.Is(err, eventstore.ErrKeyReused) || !errors.As(err, &kr) || kr.Key != key.Key || !strings.Contains(err.Error(), key.Key) {
			t.Errorf("%s with another command's hash = %v; want a *KeyReusedError naming key %q", name, err, key.Key)
		}
	}
	if after, _, err := o.LookupKey(ctx, key.Key); err != nil || cmp.Diff(before, after) != "" {
		t.Errorf("after ErrKeyReused the key's record changed from %+v to %+v (%v)", before, after, err)
	}
}

// Command keys reject invalid input before anything is stored.
func testOutcomeInvalid(t *testing.T, cfg Config) {
	o, ok := outcomeStore(t, cfg.New(t))
	if !ok {
		return
	}
	ctx := ctxFor(t)
	long := strings.Repeat("k", eventstore.MaxStreamIDBytes+1)
	if _, _, err := o.LookupKey(ctx, ""); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("LookupKey(\"\") = %v, want ErrInvalidInput", err)
	}
	if _, _, err := o.LookupKey(ctx, long); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("LookupKey of a long key = %v, want ErrInvalidInput", err)
	}
	for _, c := range []struct {
		name string
		key  eventstore.CommandKey
		r    eventstore.Refusal
	}{
		{"empty key", eventstore.CommandKey{}, eventstore.Refusal{Message: "m"}},
		{"long key", eventstore.CommandKey{Key: long}, eventstore.Refusal{Message: "m"}},
		{"NUL in message", eventstore.CommandKey{Key: "k"}, eventstore.Refusal{Message: "a\x00b"}},
		{"invalid UTF-8 code", eventstore.CommandKey{Key: "k"}, eventstore.Refusal{Code: "\xff", Message: "m"}},
	} {
		if _, err := o.RecordRefusal(ctx, c.key, "s", c.r); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("RecordRefusal with %s = %v, want ErrInvalidInput", c.name, err)
		}
	}
	if _, err := o.AppendCommand(ctx, eventstore.CommandKey{}, "s", eventstore.Any, []eventstore.Event{jsonEvent("A", 1)}); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("AppendCommand with an empty key = %v, want ErrInvalidInput", err)
	}
	if _, ok, err := o.LookupKey(ctx, "k"); ok || err != nil {
		t.Errorf("after invalid calls LookupKey(\"k\") = %v, %v; want not found", ok, err)
	}
}

// Concurrent runs of one keyed command, some appending and some refused,
// agree on one first outcome.
func testOutcomeRace(t *testing.T, cfg Config) {
	s := cfg.New(t)
	o, ok := outcomeStore(t, s)
	if !ok {
		return
	}
	ctx := ctxFor(t)
	key := eventstore.CommandKey{Key: "cmd-race", Hash: hashA}
	const n = 8
	recs := make([]eventstore.KeyRecord, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				recs[i], errs[i] = o.AppendCommand(ctx, key, "race", eventstore.Any, []eventstore.Event{jsonEvent("A", i)})
			} else {
				recs[i], errs[i] = o.RecordRefusal(ctx, key, "race", eventstore.Refusal{Code: "c", Message: "refused"})
			}
		})
	}
	wg.Wait()
	want, ok, err := o.LookupKey(ctx, key.Key)
	if err != nil || !ok {
		t.Fatalf("LookupKey after the race = %v, %v", ok, err)
	}
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d = %v", i, errs[i])
		}
		if !recs[i].Result.Replayed {
			fresh++
			recs[i].Result.Replayed = true
		}
		if diff := cmp.Diff(want, recs[i]); diff != "" {
			t.Errorf("call %d saw another outcome than the recorded one (-want +got):\n%s", i, diff)
		}
	}
	if fresh != 1 {
		t.Errorf("%d calls recorded the key, want 1", fresh)
	}
	events := 0
	if _, err := s.ReadStream(ctx, "race", 0, eventstore.Forward, 0); err == nil {
		events = len(readStream(t, s, "race"))
	}
	if wantEvents := map[bool]int{true: 0, false: 1}[want.Refusal != nil]; events != wantEvents {
		t.Errorf("stream has %d events, want %d for the recorded outcome %+v", events, wantEvents, want)
	}
}
