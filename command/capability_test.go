package command_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

// A key store with tenant views gives each tenant its own key for a
// subject.
func ExampleKeysForTenant() {
	ctx := context.Background()
	keys := memstore.NewKeys(nil)
	acme, err := command.KeysForTenant(keys, "acme")
	if err != nil {
		log.Fatal(err)
	}
	k1, _ := keys.Key(ctx, "customer-1")
	k2, _ := acme.Key(ctx, "customer-1")
	fmt.Println("same key:", string(k1) == string(k2))
	// Output:
	// same key: false
}

// instrumented is a decorator that keeps its store's tenant views by
// offering them through its As method.
type instrumented struct {
	command.SnapshotStore
	inner *memstore.Snapshots
}

func (i instrumented) As(target any) bool {
	if ts, ok := target.(*command.SnapshotTenantScoper); ok {
		*ts = i.inner
		return true
	}
	return false
}

func TestTenantAccessors(t *testing.T) {
	snaps := memstore.NewSnapshots(nil)
	if _, err := command.SnapshotsForTenant(instrumented{snaps, snaps}, "acme"); err != nil {
		t.Errorf("SnapshotsForTenant through As = %v", err)
	}
	if _, err := command.SnapshotsForTenant(struct{ command.SnapshotStore }{snaps}, "acme"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SnapshotsForTenant of a store without tenant views = %v, want ErrUnsupported", err)
	}
	if _, err := command.SnapshotsForTenant(snaps, ""); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("SnapshotsForTenant(\"\") = %v, want ErrInvalidInput", err)
	}
	keys := memstore.NewKeys(nil)
	if _, err := command.KeysForTenant(struct{ command.KeyStore }{keys}, "acme"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("KeysForTenant of a store without tenant views = %v, want ErrUnsupported", err)
	}
	if _, err := command.KeysForTenant(keys, "bad\x00tenant"); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("KeysForTenant(invalid) = %v, want ErrInvalidInput", err)
	}
}
