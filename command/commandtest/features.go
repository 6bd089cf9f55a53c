package commandtest

import (
	"testing"

	"github.com/eventfold/eventfold/command"
)

// Features declares the optional capabilities of the snapshot or key store
// under test (see command.As). RunSnapshotStore and RunKeyStore check every
// declared feature and fail when the store lacks one; they fail, naming
// the field, when the store has a capability that is not declared; and
// they log each area they skip because its feature is not declared.
type Features struct {
	// Tenants declares tenant views: command.SnapshotTenantScoper for a
	// snapshot store, command.KeyTenantScoper for a key store. The suites
	// then check that tenants are kept apart, also under contention.
	Tenants bool
}

// SnapshotConfig describes the snapshot store under test.
type SnapshotConfig struct {
	// New returns an empty store isolated from every other call. It is
	// called once per subtest and registers its own cleanup with
	// t.Cleanup.
	New func(t testing.TB) command.SnapshotStore
	// Features declares the store's optional capabilities.
	Features Features
}

// KeyConfig describes the key store under test.
type KeyConfig struct {
	// New returns an empty store isolated from every other call. It is
	// called once per subtest and registers its own cleanup with
	// t.Cleanup.
	New func(t testing.TB) command.KeyStore
	// Features declares the store's optional capabilities.
	Features Features
}

// capability is one optional capability of a store with the feature that
// declares it. A new capability adds one line to the lists below and its
// tests to the suite.
type capability struct {
	field, iface string
	declared     func(Features) bool
	has          func(store any) bool
}

var snapshotCapabilities = []capability{
	{"Tenants", "command.SnapshotTenantScoper", func(f Features) bool { return f.Tenants }, has[command.SnapshotTenantScoper]},
}

var keyCapabilities = []capability{
	{"Tenants", "command.KeyTenantScoper", func(f Features) bool { return f.Tenants }, has[command.KeyTenantScoper]},
}

func has[T any](store any) bool {
	_, ok := command.As[T](store)
	return ok
}

// checkFeatures compares what f declares with what store, a fresh store,
// has.
func checkFeatures(t *testing.T, store any, f Features, caps []capability) {
	for _, c := range caps {
		declared, has := c.declared(f), c.has(store)
		switch {
		case declared && !has:
			t.Errorf("commandtest: Features.%s is declared but %T has no %s", c.field, store, c.iface)
		case !declared && has:
			t.Errorf("commandtest: %T has %s but Features.%s is not declared; declare it so that the suite checks it", store, c.iface, c.field)
		case !declared:
			t.Logf("commandtest: Features.%s not declared: %s not checked", c.field, c.iface)
		}
	}
}
