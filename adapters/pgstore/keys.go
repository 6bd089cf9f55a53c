package pgstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
)

var _ command.KeyStore = (*Keys)(nil)

// Keys is a command.KeyStore in PostgreSQL (table subject_keys): one row per
// subject holding its key, deleted by Forget. Each call is one or a few
// short autocommit statements. Errors name the subject, never the key.
//
// Forget deletes the row; PostgreSQL may keep the old bytes in dead tuples
// until VACUUM, and back-ups and replicas keep them until they expire, so
// plan retention with that in mind.
//
// The Keys NewKeys returns hold the default tenant's subjects; ForTenant
// returns another tenant's.
type Keys struct {
	err       error // an invalid Options.Schema, returned by every call
	db        scoped
	lookupSQL string
	insertSQL string
	forgetSQL string
}

// NewKeys returns Keys in the schema named by opts.Schema (default
// "eventfold"). Migrate must have run. It never closes db. With
// opts.RowLevelSecurity on, db must be able to send batches (see Options).
//
// With an invalid schema name (see ValidateSchema), every call fails with
// that error.
func NewKeys(db DB, opts *Options) *Keys {
	schema, err := schemaOf(opts)
	q := pgx.Identifier{schema}.Sanitize()
	return &Keys{
		err:       err,
		db:        scoped{db: db, set: opts != nil && opts.RowLevelSecurity},
		lookupSQL: "SELECT key FROM " + q + ".subject_keys WHERE tenant_id = $2 AND subject = $1",
		insertSQL: "INSERT INTO " + q + ".subject_keys (subject, key, tenant_id) VALUES ($1, $2, $3)" +
			" ON CONFLICT (tenant_id, subject) DO NOTHING RETURNING key",
		forgetSQL: "DELETE FROM " + q + ".subject_keys WHERE tenant_id = $2 AND subject = $1",
	}
}

// ForTenant returns the keys of tenant's subjects, kept apart from every
// other tenant's: the same subject in two tenants has two keys, and Forget
// in one leaves the other's. It fails with an error matching
// eventstore.ErrInvalidInput when tenant is not a valid tenant ID.
func (k *Keys) ForTenant(tenant string) (*Keys, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	t := *k
	t.db.tenant = tenant
	return &t, nil
}

// KeysForTenant implements command.KeyTenantScoper: ForTenant as a
// command.KeyStore, so that decorators can keep tenant views.
func (k *Keys) KeysForTenant(tenant string) (command.KeyStore, error) {
	v, err := k.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return v, nil
}

var _ command.KeyTenantScoper = (*Keys)(nil)

// Key implements command.KeyStore. A subject without a key gets one with
// INSERT … ON CONFLICT DO NOTHING; the loser of a race for the first key
// reads the winner's.
func (k *Keys) Key(ctx context.Context, subject string) ([]byte, error) {
	if k.err != nil {
		return nil, k.err
	}
	if err := command.ValidateSubject(subject); err != nil {
		return nil, err
	}
	for range 5 {
		key, ok, err := k.lookup(ctx, subject)
		if err != nil || ok {
			return key, err
		}
		fresh := make([]byte, command.KeySize)
		rand.Read(fresh) // never fails (crypto/rand)
		err = k.db.QueryRow(ctx, k.insertSQL, subject, fresh, k.db.tenant).Scan(&key)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("pgstore: create key of subject %q: %w", subject, err)
		}
		// Another writer created the key first; read it on the next turn
		// (it may even have been forgotten in between).
	}
	return nil, fmt.Errorf("pgstore: create key of subject %q: gave up after concurrent creates and deletes", subject)
}

// Lookup implements command.KeyStore.
func (k *Keys) Lookup(ctx context.Context, subject string) ([]byte, bool, error) {
	if k.err != nil {
		return nil, false, k.err
	}
	if err := command.ValidateSubject(subject); err != nil {
		return nil, false, err
	}
	return k.lookup(ctx, subject)
}

func (k *Keys) lookup(ctx context.Context, subject string) ([]byte, bool, error) {
	var key []byte
	err := k.db.QueryRow(ctx, k.lookupSQL, subject, k.db.tenant).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pgstore: look up key of subject %q: %w", subject, err)
	}
	return key, true, nil
}

// Forget implements command.KeyStore. It deletes the subject's row.
func (k *Keys) Forget(ctx context.Context, subject string) error {
	if k.err != nil {
		return k.err
	}
	if err := command.ValidateSubject(subject); err != nil {
		return err
	}
	if _, err := k.db.Exec(ctx, k.forgetSQL, subject, k.db.tenant); err != nil {
		return fmt.Errorf("pgstore: forget key of subject %q: %w", subject, err)
	}
	return nil
}
