package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// StreamInfo describes one stream, as ListStreams returns it.
type StreamInfo struct {
	ID string
	// Version is the version of the stream's last event, which is also
	// its number of events.
	Version int64
}

// ListStreams returns up to limit streams whose IDs sort after after ("" to
// start at the beginning), in the order of the streams table's primary key
// (the database's collation). Pass the last ID returned as after to read the
// next page; an empty page is the end. It is one short read-only
// statement, meant for operators' tools rather than hot paths. It lists the
// view's tenant's streams; on the AllTenants view it fails with an error
// matching eventstore.ErrInvalidInput.
func (s *Store) ListStreams(ctx context.Context, after string, limit int) ([]StreamInfo, error) {
	if limit <= 0 {
		return nil, errors.New("pgstore: ListStreams: limit must be positive")
	}
	if s.all {
		return nil, errAllTenants
	}
	rows, err := s.db.Query(ctx, s.listStreamsSQL, after, limit, s.tenant)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list streams: %w", err)
	}
	infos, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StreamInfo, error) {
		var i StreamInfo
		err := row.Scan(&i.ID, &i.Version)
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: list streams: %w", err)
	}
	return infos, nil
}
