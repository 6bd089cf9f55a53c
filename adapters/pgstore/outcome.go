package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/eventstore"
)

// outcomeSQL returns the statements of LookupKey and RecordRefusal on the
// schema q.
func outcomeSQL(q string) (lookup, refuse string) {
	lookup = "SELECT stream_version, transaction_id, global_position, command_hash, refusal_code, refusal_message FROM " + q +
		".command_keys WHERE tenant_id = $1 AND command_key = $2"
	refuse = "INSERT INTO " + q + ".command_keys (tenant_id, command_key, stream_id, stream_version, command_hash, refusal_code, refusal_message)" +
		" VALUES ($1, $2, $3, 0, $4, $5, $6) ON CONFLICT (tenant_id, command_key) DO NOTHING"
	return lookup, refuse
}

// keyRow is a row of command_keys, as append_events and lookupKeySQL
// return it.
type keyRow struct {
	version  int64
	txid     *uint64
	position *int64
	hash     *string
	code     *string
	message  *string
}

// record returns the row as the record of a key recorded before.
func (r keyRow) record(streamID string) (eventstore.KeyRecord, error) {
	rec := eventstore.KeyRecord{Hash: deref(r.hash), Result: eventstore.AppendResult{Replayed: true}}
	if r.message != nil {
		rec.Refusal = &eventstore.Refusal{Code: deref(r.code), Message: *r.message}
		return rec, nil
	}
	if r.txid == nil || r.position == nil {
		return eventstore.KeyRecord{}, fmt.Errorf("pgstore: command key of stream %s: no position recorded", quote(streamID))
	}
	rec.Result.StreamVersion = r.version
	rec.Result.Position = eventstore.Position{Commit: *r.txid, Sequence: uint64(*r.position)}
	return rec, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// RecordRefusal implements eventstore.OutcomeStore: the refusal is a row of
// command_keys without a position, pruned by PruneCommandKeys like the
// others. It is one INSERT … ON CONFLICT DO NOTHING; a key recorded before
// is then read by a second statement, which sees the row even when its
// writer committed while the first one ran.
func (s *Store) RecordRefusal(ctx context.Context, key eventstore.CommandKey, streamID string, refusal eventstore.Refusal) (eventstore.KeyRecord, error) {
	if err := eventstore.ValidateCommandKey(key, &refusal); err != nil {
		return eventstore.KeyRecord{}, err
	}
	if err := eventstore.ValidateStreamID(streamID); err != nil {
		return eventstore.KeyRecord{}, err
	}
	if s.all {
		return eventstore.KeyRecord{}, errAllTenants
	}
	var hash *string
	if key.Hash != "" {
		hash = &key.Hash
	}
	for range 5 {
		tag, err := s.db.Exec(ctx, s.refuseKeySQL, s.tenant, key.Key, streamID, hash, refusal.Code, refusal.Message)
		if err != nil {
			return eventstore.KeyRecord{}, s.backendError("record refusal of stream "+quote(streamID), err)
		}
		if tag.RowsAffected() == 1 {
			return eventstore.KeyRecord{Hash: key.Hash, Refusal: &refusal}, nil
		}
		rec, ok, err := s.lookupKey(ctx, key.Key)
		if err != nil || ok {
			if err == nil {
				err = rec.Check(key)
			}
			return rec, err
		}
		// Pruned between the two statements: try again.
	}
	return eventstore.KeyRecord{}, fmt.Errorf("pgstore: record refusal of stream %s: gave up after concurrent records and prunes of its key", quote(streamID))
}

// LookupKey implements eventstore.OutcomeStore.
func (s *Store) LookupKey(ctx context.Context, key string) (eventstore.KeyRecord, bool, error) {
	if err := eventstore.ValidateCommandKey(eventstore.CommandKey{Key: key}, nil); err != nil {
		return eventstore.KeyRecord{}, false, err
	}
	if s.all {
		return eventstore.KeyRecord{}, false, errAllTenants
	}
	return s.lookupKey(ctx, key)
}

func (s *Store) lookupKey(ctx context.Context, key string) (eventstore.KeyRecord, bool, error) {
	var row keyRow
	err := s.db.QueryRow(ctx, s.lookupKeySQL, s.tenant, key).
		Scan(&row.version, &row.txid, &row.position, &row.hash, &row.code, &row.message)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.KeyRecord{}, false, nil
	}
	if err != nil {
		return eventstore.KeyRecord{}, false, s.backendError("look up command key", err)
	}
	rec, err := row.record("")
	return rec, err == nil, err
}
