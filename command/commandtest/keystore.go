package commandtest

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// RunKeyStore runs the conformance suite for command.KeyStore
// implementations as parallel subtests of t: the tests of the port's
// contract, and those of every feature cfg declares.
func RunKeyStore(t *testing.T, cfg KeyConfig) {
	if cfg.New == nil {
		t.Fatal("commandtest: KeyConfig.New is nil")
	}
	checkFeatures(t, cfg.New(t), cfg.Features, keyCapabilities)
	tests := []struct {
		name string
		run  func(t *testing.T, s command.KeyStore)
	}{
		{"LookupMissing", testKeyLookupMissing},
		{"KeyIsCreatedOnce", testKeyCreatedOnce},
		{"SubjectsAreIndependent", testKeySubjectsIndependent},
		{"ForgetDeletes", testKeyForget},
		{"ForgetUnknown", testKeyForgetUnknown},
		{"KeyIsCopied", testKeyCopied},
		{"InvalidSubject", testKeyInvalidSubject},
		{"ConcurrentFirstUse", testKeyConcurrentFirstUse},
	}
	if cfg.Features.Tenants {
		tests = append(tests, []struct {
			name string
			run  func(t *testing.T, s command.KeyStore)
		}{
			{"Tenants", testKeyTenants},
			{"Tenants/ConcurrentFirstUse", testKeyTenantsConcurrent},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, cfg.New(t))
		})
	}
}

func key(t *testing.T, s command.KeyStore, subject string) []byte {
	t.Helper()
	k, err := s.Key(t.Context(), subject)
	if err != nil {
		t.Fatalf("Key(%q) = %v, want a key", subject, err)
	}
	if len(k) != command.KeySize {
		t.Fatalf("Key(%q) returned %d bytes, want %d", subject, len(k), command.KeySize)
	}
	return k
}

func lookup(t *testing.T, s command.KeyStore, subject string) ([]byte, bool) {
	t.Helper()
	k, ok, err := s.Lookup(t.Context(), subject)
	if err != nil {
		t.Fatalf("Lookup(%q) = %v", subject, err)
	}
	return k, ok
}

func testKeyLookupMissing(t *testing.T, s command.KeyStore) {
	if k, ok := lookup(t, s, "nobody"); ok || k != nil {
		t.Errorf("Lookup of a subject without key = %d bytes, %v; want nil, false", len(k), ok)
	}
}

func testKeyCreatedOnce(t *testing.T, s command.KeyStore) {
	for _, subject := range []string{"customer-1", `odd "quoted"; subject`, "ünïcode/主体"} {
		first := key(t, s, subject)
		if bytes.Equal(first, make([]byte, command.KeySize)) {
			t.Errorf("Key(%q) is all zeros, want a random key", subject)
		}
		if again := key(t, s, subject); !bytes.Equal(again, first) {
			t.Errorf("second Key(%q) returned a different key", subject)
		}
		got, ok := lookup(t, s, subject)
		if !ok || !bytes.Equal(got, first) {
			t.Errorf("Lookup(%q) after Key: found %v, same key %v; want true, true", subject, ok, bytes.Equal(got, first))
		}
	}
}

func testKeySubjectsIndependent(t *testing.T, s command.KeyStore) {
	a, b := key(t, s, "a"), key(t, s, "b")
	if bytes.Equal(a, b) {
		t.Error("two subjects got the same key")
	}
	if err := s.Forget(t.Context(), "a"); err != nil {
		t.Fatalf("Forget(a) = %v", err)
	}
	if got, ok := lookup(t, s, "b"); !ok || !bytes.Equal(got, b) {
		t.Error("Forget(a) changed the key of b")
	}
}

func testKeyForget(t *testing.T, s command.KeyStore) {
	old := key(t, s, "customer-1")
	for range 2 { // forgetting twice is fine
		if err := s.Forget(t.Context(), "customer-1"); err != nil {
			t.Fatalf("Forget = %v, want nil", err)
		}
	}
	if _, ok := lookup(t, s, "customer-1"); ok {
		t.Fatal("Lookup after Forget found a key, want none")
	}
	if fresh := key(t, s, "customer-1"); bytes.Equal(fresh, old) {
		t.Error("Key after Forget returned the forgotten key, want a new one")
	}
}

func testKeyForgetUnknown(t *testing.T, s command.KeyStore) {
	if err := s.Forget(t.Context(), "never-seen"); err != nil {
		t.Errorf("Forget of a subject without key = %v, want nil", err)
	}
}

func testKeyCopied(t *testing.T, s command.KeyStore) {
	k := key(t, s, "s")
	want := bytes.Clone(k)
	clear(k)
	l, _ := lookup(t, s, "s")
	clear(l)
	if got := key(t, s, "s"); !bytes.Equal(got, want) {
		t.Error("changing a returned key changed the stored key")
	}
}

func testKeyInvalidSubject(t *testing.T, s command.KeyStore) {
	for _, subject := range []string{"", "bad\x00nul", "\xff\xfe", strings.Repeat("x", eventstore.MaxTypeBytes+1)} {
		if _, err := s.Key(t.Context(), subject); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("Key(%q) = %v, want ErrInvalidInput", subject, err)
		}
		if _, _, err := s.Lookup(t.Context(), subject); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("Lookup(%q) = %v, want ErrInvalidInput", subject, err)
		}
		if err := s.Forget(t.Context(), subject); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("Forget(%q) = %v, want ErrInvalidInput", subject, err)
		}
	}
}

func testKeyConcurrentFirstUse(t *testing.T, s command.KeyStore) {
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = s.Key(t.Context(), "contended") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent Key = %v", errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatal("concurrent first Key calls returned different keys, want one")
		}
	}
}
