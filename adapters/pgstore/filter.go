package pgstore

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/eventfold/eventfold/eventstore"
)

var _ eventstore.FilteredReader = (*Store)(nil)

// ReadAllFiltered implements eventstore.FilteredReader with one statement,
// so the records and the position scanned through share a snapshot and
// ReadAll's horizon (docs/design.md §4). Each type is one range of the
// index events_type_log (tenant, type, transaction ID, sequence), and
// PostgreSQL merges the ranges in log order, so a reader of a few types
// reads only their events. Stream prefixes are checked on the rows the
// type ranges give, or on the whole log's when the filter names no type.
// When the page is not full, Through is the view's newest event below the
// horizon, whatever its type.
func (s *Store) ReadAllFiltered(ctx context.Context, after eventstore.Position, f eventstore.Filter, limit int) (eventstore.FilteredPage, error) {
	page := eventstore.FilteredPage{Through: after}
	if limit < 0 {
		return page, &eventstore.InvalidInputError{Field: "limit", Reason: "must not be negative"}
	}
	if limit == 0 {
		limit = s.opts.ReadAllLimit
	}
	if after.Sequence > 1<<63-1 {
		return page, &eventstore.InvalidInputError{Field: "position", Reason: "sequence out of range"}
	}
	sql, args := s.filteredSQL(after, f, limit)
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return page, s.backendError("read all filtered", err)
	}
	defer rows.Close()
	var through eventstore.Position
	for rows.Next() {
		var (
			r       eventstore.Record
			pos     int64
			hpos    int64
			matched bool
			meta    []byte
		)
		if err := rows.Scan(&through.Commit, &hpos, &matched, &r.Position.Commit, &pos, &r.StreamID, &r.Version, &r.ID,
			&r.Type, &r.ContentType, &r.Data, &meta, &r.RecordedAt, &r.Tenant); err != nil {
			return page, s.backendError("read all filtered", err)
		}
		through.Sequence = uint64(hpos)
		if !matched {
			continue
		}
		r.Position.Sequence = uint64(pos)
		if len(meta) > 0 {
			if err := decodeMetadata(meta, &r.Metadata); err != nil {
				return page, s.backendError("read all filtered: metadata of event "+r.ID, err)
			}
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return page, s.backendError("read all filtered", err)
	}
	switch {
	case len(page.Records) == limit:
		page.Through = page.Records[limit-1].Position
	case after.Before(through):
		page.Through = through
	}
	return page, nil
}

// filteredSQL builds ReadAllFiltered's statement and its arguments. Its
// rows are the matching records, each with the view's newest position
// below the horizon; a page with no record is one row of that position
// (matched false), or no row when nothing new is visible.
func (s *Store) filteredSQL(after eventstore.Position, f eventstore.Filter, limit int) (string, []any) {
	q := pgx.Identifier{s.opts.Schema}.Sanitize()
	args := []any{after.Commit, int64(after.Sequence), limit}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var view string
	switch s.kind() {
	case viewDefault:
		view = "tenant_id = '' AND "
	case viewTenant:
		view = "tenant_id = " + param(s.tenant) + " AND tenant_id <> '' AND "
	}
	const horizon = "(transaction_id, global_position) > ($1, $2) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
	var prefixes string
	if len(f.StreamPrefixes) > 0 {
		prefixes = " AND stream_id ^@ ANY(" + param(f.StreamPrefixes) + "::text[])"
	}
	branch := func(cond string) string {
		return "(SELECT " + recordColumns + " FROM " + q + ".events WHERE " + view + cond + horizon + prefixes +
			" AND type <> '" + erasedType + "'" + // what a hard delete or reclaim erased
			" ORDER BY transaction_id, global_position LIMIT $3)"
	}
	var b strings.Builder
	b.WriteString("WITH m AS (")
	if len(f.Types) == 0 {
		b.WriteString(branch(""))
	} else {
		// One branch per type, merged in log order (a Merge Append over
		// index ranges): type = ANY(...) would read every type's range in
		// full and sort it.
		b.WriteString("SELECT * FROM (")
		for i, t := range uniqueStrings(f.Types) {
			if i > 0 {
				b.WriteString(" UNION ALL ")
			}
			b.WriteString(branch("type = " + param(t) + " AND "))
		}
		b.WriteString(") u ORDER BY transaction_id, global_position LIMIT $3")
	}
	b.WriteString("), h AS (SELECT transaction_id, global_position FROM " + q + ".events WHERE " + view + horizon +
		" ORDER BY transaction_id DESC, global_position DESC LIMIT 1)" +
		" SELECT h.transaction_id, h.global_position, m.transaction_id IS NOT NULL," +
		" COALESCE(m.transaction_id, '0'::xid8), COALESCE(m.global_position, 0), COALESCE(m.stream_id, ''), COALESCE(m.version, 0)," +
		" COALESCE(m.event_id::text, ''), COALESCE(m.type, ''), COALESCE(m.content_type, ''), COALESCE(m.data, ''::bytea), m.metadata," +
		" COALESCE(m.recorded_at, 'epoch'::timestamptz), COALESCE(m.tenant_id, '')" +
		" FROM h LEFT JOIN m ON true ORDER BY m.transaction_id, m.global_position")
	return b.String(), args
}

// uniqueStrings returns ss without repeats, in their first order.
func uniqueStrings(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
