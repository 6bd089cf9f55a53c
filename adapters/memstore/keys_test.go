package memstore_test

import (
	"testing"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
)

func TestKeysConformance(t *testing.T) {
	commandtest.RunKeyStore(t, commandtest.KeyConfig{
		Features: commandtest.Features{Tenants: true},
		New: func(t testing.TB) command.KeyStore {
			return memstore.NewKeys(nil)
		},
	})
}
