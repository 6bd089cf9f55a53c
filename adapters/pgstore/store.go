package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/eventfold/eventfold/eventstore"
)

var (
	_ eventstore.OutcomeStore = (*Store)(nil)
	_ eventstore.HeadReader   = (*Store)(nil)
	_ eventstore.Notifier     = (*Store)(nil)
)

// DB is what a Store needs from PostgreSQL. *pgxpool.Pool, *pgx.Conn and
// pgx.Tx all satisfy it; pass a pgx.Tx to append inside your own transaction
// (and keep that transaction short: see the package doc).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Options configures a Store. A nil *Options means all defaults.
type Options struct {
	// Schema is the PostgreSQL schema holding the tables. Default
	// DefaultSchema ("eventfold"). Migrate must have run for it. Any name
	// of at most MaxSchemaBytes of UTF-8 without NUL bytes works, quotes
	// and dollar signs included; every function taking Options rejects
	// others (see ValidateSchema) rather than let PostgreSQL truncate them.
	Schema string
	// MaxDataBytes limits one event's data. Zero means
	// eventstore.DefaultMaxDataBytes (1 MiB).
	MaxDataBytes int
	// ReadAllLimit is the batch size of ReadAll when called with limit 0.
	// Zero means 500.
	ReadAllLimit int
	// RowLevelSecurity makes every statement of a tenant's view
	// (ForTenant) set the PostgreSQL setting eventfold.tenant to its tenant
	// first, local to the transaction and in the same round trip, for the
	// policies EnableRowLevelSecurity creates: the setting never reaches
	// later statements on a pooled connection. The default tenant is then
	// out of reach: its calls fail, so use named tenants only. It needs a DB that
	// can send batches (*pgxpool.Pool, *pgx.Conn and pgx.Tx can). Off by
	// default. See docs/tenancy.md.
	RowLevelSecurity bool
}

// Store is an eventstore.Store on PostgreSQL. It is safe for concurrent use
// when its DB is (a pool is; a single connection or transaction is not).
//
// The Store that New returns is the default tenant (tenant ID ""): all it
// reads and writes is the default tenant's. ForTenant returns a view of
// the same Store confined to another tenant, and AllTenants a reader of
// every tenant's log (see the eventstore package doc on tenants).
type Store struct {
	*core
	db     scoped // runs statements as this view's tenant
	tenant string
	all    bool // the AllTenants view: reads the whole log, appends nothing
}

// core is what every view of one Store shares: the connection and the
// statements.
type core struct {
	raw  DB
	opts Options

	appendSQL       string
	appendExactSQL  string   // the fast path, see appendExact, with arrays
	appendRowsSQL   []string // the same with one VALUES row per event, by count
	readFwdSQL      string
	readBwdSQL      string
	streamSQL       string
	readAllSQL      [3]string // by viewKind
	headSQL         [3]string // by viewKind
	pruneKeysSQL    string
	pruneAllKeysSQL string
	lookupKeySQL    string
	refuseKeySQL    string
	listStreamsSQL  string
	horizonSQL      string

	inTx bool // db is the caller's transaction

	signals signals // wakes tailers after appends
}

// viewKind picks the statement of a view: the default tenant's, a named
// tenant's (which uses the partial index events_tenant_log), or all.
type viewKind int

const (
	viewDefault viewKind = iota
	viewTenant
	viewAll
)

func (s *Store) kind() viewKind {
	switch {
	case s.all:
		return viewAll
	case s.tenant == "":
		return viewDefault
	}
	return viewTenant
}

const recordColumns = "transaction_id, global_position, stream_id, version, event_id::text, type, content_type, data, metadata, recorded_at, tenant_id"

// New returns a Store that uses db. It does not create tables (call Migrate)
// and never closes db.
func New(db DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("pgstore: New: db is nil")
	}
	c := &core{raw: db}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Schema == "" {
		c.opts.Schema = DefaultSchema
	}
	if err := ValidateSchema(c.opts.Schema); err != nil {
		return nil, fmt.Errorf("pgstore: New: %w", err)
	}
	if c.opts.ReadAllLimit <= 0 {
		c.opts.ReadAllLimit = 500
	}
	if c.opts.MaxDataBytes < 0 {
		return nil, errors.New("pgstore: New: Options.MaxDataBytes must not be negative")
	}
	if c.opts.RowLevelSecurity {
		if _, ok := db.(batcher); !ok {
			return nil, fmt.Errorf("pgstore: New: %w", errNoBatch)
		}
	}
	q := pgx.Identifier{c.opts.Schema}.Sanitize()
	c.appendSQL = "SELECT outcome, stream_version, transaction_id, global_position, command_hash, refusal_code, refusal_message FROM " + q +
		".append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	// The fast path (see appendExact): the events go in only next to a
	// stored event $2 that does not end the stream (a tombstone or an
	// archive marker), so a stream at any other version gets no row back,
	// and a concurrent append that took the same versions first makes this
	// one fail on events_stream_version. Nothing is written to streams.
	c.appendExactSQL = `WITH ins AS (
	INSERT INTO ` + q + `.events (tenant_id, stream_id, version, event_id, type, content_type, data, metadata)
	SELECT $8, $1, $2 + u.i, u.id, u.t, u.ct, u.d, u.m
	FROM unnest($3::uuid[], $4::text[], $5::text[], $6::bytea[], $7::jsonb[]) WITH ORDINALITY AS u(id, t, ct, d, m, i)
	WHERE EXISTS (SELECT FROM ` + q + `.events p WHERE p.tenant_id = $8 AND p.stream_id = $1 AND p.version = $2 AND p.type NOT IN ('` + tombstoneType + `', '` + archivedType + `'))
	RETURNING version, transaction_id, global_position)
SELECT version, transaction_id, global_position FROM ins ORDER BY version DESC LIMIT 1`
	c.appendRowsSQL = make([]string, maxRowsPerFastAppend+1)
	for n := 1; n <= maxRowsPerFastAppend; n++ {
		c.appendRowsSQL[n] = appendRowsSQL(q, n)
	}
	readable := readableSQL(q) // the stream lifecycle's filter
	c.readFwdSQL = "SELECT " + recordColumns + " FROM " + q +
		".events WHERE tenant_id = $4 AND stream_id = $1 AND version >= $2" + readable + " ORDER BY version LIMIT $3"
	c.readBwdSQL = "SELECT " + recordColumns + " FROM " + q +
		".events WHERE tenant_id = $4 AND stream_id = $1 AND version <= $2" + readable + " ORDER BY version DESC LIMIT $3"
	c.streamSQL = streamStateSQL(q)
	// The gap-safe tail: only transactions below the snapshot's xmin, all of
	// which have ended, so nothing can appear later before the last row
	// returned. One statement, so the filter and the rows share a snapshot.
	// A tenant's tail is the same with its other tenants' rows left out.
	tail := func(tenant string) string {
		return "SELECT " + recordColumns + " FROM " + q +
			".events WHERE " + tenant + "(transaction_id, global_position) > ($1, $2)" +
			" AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())" +
			" AND type <> '" + erasedType + "'" +
			" ORDER BY transaction_id, global_position LIMIT $3"
	}
	c.readAllSQL = [3]string{
		viewDefault: tail("tenant_id = '' AND "),
		viewTenant:  tail("tenant_id = $4 AND tenant_id <> '' AND "),
		viewAll:     tail(""),
	}
	head := func(tenant string) string {
		return "SELECT transaction_id, global_position FROM " + q +
			".events " + tenant + "ORDER BY transaction_id DESC, global_position DESC LIMIT 1"
	}
	c.headSQL = [3]string{
		viewDefault: head("WHERE tenant_id = '' "),
		viewTenant:  head("WHERE tenant_id = $1 AND tenant_id <> '' "),
		viewAll:     head(""),
	}
	c.pruneKeysSQL = "DELETE FROM " + q + ".command_keys WHERE recorded_at < $1 AND tenant_id = $2"
	c.pruneAllKeysSQL = "DELETE FROM " + q + ".command_keys WHERE recorded_at < $1"
	c.lookupKeySQL, c.refuseKeySQL = outcomeSQL(q)
	c.listStreamsSQL = "SELECT stream_id, " + q + ".stream_version(tenant_id, stream_id) FROM " + q +
		".streams WHERE tenant_id = $3 AND stream_id > $1 ORDER BY stream_id LIMIT $2"
	c.horizonSQL = "SELECT pg_snapshot_xmin(pg_current_snapshot())"
	_, c.inTx = db.(pgx.Tx)
	return c.view("", false), nil
}

func (c *core) view(tenant string, all bool) *Store {
	return &Store{core: c, tenant: tenant, all: all,
		db: scoped{db: c.raw, tenant: tenant, set: c.opts.RowLevelSecurity && !all}}
}

// ForTenant returns a view of the store confined to tenant: every call on
// it (Append, AppendKeyed, ReadStream, ReadAll, Head, Changed, ListStreams,
// PruneCommandKeys) reads and writes only that tenant's rows. It shares the
// Store's connection and statements, so views are cheap; make
// one per request if that is convenient. It fails with an error matching
// eventstore.ErrInvalidInput when tenant is not a valid tenant ID
// (eventstore.ValidateTenant).
func (s *Store) ForTenant(tenant string) (*Store, error) {
	if err := eventstore.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	return s.view(tenant, false), nil
}

// AllTenants returns the reader of every tenant's events, for a relay, an
// admin tool or a projection that serves all tenants. With
// Options.RowLevelSecurity on it sets no tenant, so it needs a role that
// bypasses the policies (see docs/tenancy.md).
func (s *Store) AllTenants() *AllTenantsReader {
	return &AllTenantsReader{s: s.view("", true)}
}

// Tenant returns the tenant the view is confined to: "" for the default
// tenant.
func (s *Store) Tenant() string { return s.tenant }

// StoreForTenant implements eventstore.TenantScoper: ForTenant as an
// eventstore.Store, so that decorators can keep tenant views.
func (s *Store) StoreForTenant(tenant string) (eventstore.Store, error) {
	v, err := s.ForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// StoreForAllTenants implements eventstore.TenantScoper: AllTenants as an
// eventstore.LogReader.
func (s *Store) StoreForAllTenants() eventstore.LogReader { return s.AllTenants() }

var _ eventstore.TenantScoper = (*Store)(nil)

var errAllTenants = &eventstore.InvalidInputError{Field: "tenant",
	Reason: "the all-tenants view only reads the global log; use ForTenant to append or read a stream"}

// Append implements eventstore.Store in one round trip.
func (s *Store) Append(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	rec, err := s.append(ctx, nil, streamID, expected, events)
	return rec.Result, err
}

// AppendKeyed implements eventstore.KeyedAppender: the command key is stored
// in the append's transaction, in the command_keys table, until
// PruneCommandKeys removes it. A key that holds a refusal fails with an
// error matching eventstore.ErrKeyRefused.
func (s *Store) AppendKeyed(ctx context.Context, commandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	if err := validateKey(commandKey); err != nil {
		return eventstore.AppendResult{}, err
	}
	var key *eventstore.CommandKey
	if commandKey != "" {
		key = &eventstore.CommandKey{Key: commandKey}
	}
	rec, err := s.append(ctx, key, streamID, expected, events)
	if err == nil && rec.Refusal != nil {
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: command key %s: %w", quote(commandKey), eventstore.ErrKeyRefused)
	}
	return rec.Result, err
}

// AppendCommand implements eventstore.OutcomeStore: AppendKeyed that stores
// the command's hash with the key, in the same statement.
func (s *Store) AppendCommand(ctx context.Context, key eventstore.CommandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.KeyRecord, error) {
	if err := eventstore.ValidateCommandKey(key, nil); err != nil {
		return eventstore.KeyRecord{}, err
	}
	rec, err := s.append(ctx, &key, streamID, expected, events)
	if err == nil && rec.Result.Replayed {
		err = rec.Check(key)
	}
	return rec, err
}

// append appends events, with key unless it is nil.
func (s *Store) append(ctx context.Context, key *eventstore.CommandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.KeyRecord, error) {
	if err := eventstore.ValidateAppend(streamID, expected, events, s.opts.MaxDataBytes); err != nil {
		return eventstore.KeyRecord{}, err
	}
	if s.all {
		return eventstore.KeyRecord{}, errAllTenants
	}
	n := len(events)
	ids := make([]string, n)
	uuids := make([]pgtype.UUID, n)
	types := make([]string, n)
	contentTypes := make([]string, n)
	data := make([][]byte, n)
	meta := make([][]byte, n)
	for i, e := range events {
		ids[i] = strings.ToLower(e.ID)
		if ids[i] == "" {
			ids[i] = eventstore.NewEventID()
		}
		uuids[i] = parseUUID(ids[i]) // binary on the wire; validated above
		types[i] = e.Type
		contentTypes[i] = e.ContentType
		if contentTypes[i] == "" {
			contentTypes[i] = eventstore.ContentTypeJSON
		}
		data[i] = e.Data
		if data[i] == nil {
			data[i] = []byte{}
		}
		if !e.Metadata.IsZero() {
			b, err := encodeMetadata(e.Metadata)
			if err != nil {
				return eventstore.KeyRecord{}, &eventstore.InvalidInputError{Field: fmt.Sprintf("events[%d].metadata", i), Reason: err.Error(), Err: err}
			}
			meta[i] = b
		}
	}
	return s.appendPrepared(ctx, streamID, expected, key, ids, uuids, types, contentTypes, data, meta)
}

// appendPrepared appends on its own, in one round trip (two after a unique
// violation on an event ID).
func (s *Store) appendPrepared(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, key *eventstore.CommandKey,
	ids []string, uuids []pgtype.UUID, types, contentTypes []string, data, meta [][]byte) (eventstore.KeyRecord, error) {
	// A unique violation on an event ID means a retry of an earlier append
	// (or a concurrent one that committed first), and on a command key a
	// concurrent run of the same command: trying once more with the replay
	// check on finds the first result.
	checkReplay := false
	for attempt := 0; ; attempt++ {
		rec, err := s.appendOnce(ctx, streamID, expected, key, checkReplay, ids, uuids, types, contentTypes, data, meta)
		var pgErr *pgconn.PgError
		// 40001: a later transaction appended to the stream first (see
		// schema/functions/append_events.sql); a new transaction gets a later ID. Inside
		// the caller's own transaction there is nothing to retry: the
		// error says so and the caller retries the transaction.
		// append_events reports losing a version to an append at an
		// exact version (which locks no stream row) as 40001 too.
		if errors.As(err, &pgErr) && pgErr.Code == "40001" && !s.inTx && attempt < 20 {
			if err := sleepBriefly(ctx, attempt); err != nil {
				return rec, err
			}
			continue
		}
		if errors.As(err, &pgErr) && pgErr.Code == "23505" &&
			(pgErr.ConstraintName == "events_event_id" || pgErr.ConstraintName == "command_keys_pkey") {
			if !checkReplay {
				checkReplay = true
				continue
			}
			return rec, fmt.Errorf("pgstore: append to stream %s: an event ID is already stored by a different append: %w (%w)",
				quote(streamID), eventstore.ErrDuplicateEvent, pgErr)
		}
		return rec, fenced(err) // a moving tenant's fence (shard.go)
	}
}

func (s *Store) appendOnce(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, key *eventstore.CommandKey, checkReplay bool,
	ids []string, uuids []pgtype.UUID, types, contentTypes []string, data, meta [][]byte) (eventstore.KeyRecord, error) {
	if expected > 0 && key == nil && !checkReplay && !s.inTx {
		if res, ok, err := s.appendExact(ctx, streamID, expected, ids, uuids, types, contentTypes, data, meta); ok || err != nil {
			return eventstore.KeyRecord{Result: res}, err
		}
	}
	var keyArg, hashArg *string
	if key != nil {
		keyArg = &key.Key
		if key.Hash != "" {
			hashArg = &key.Hash
		}
	}
	var (
		outcome int
		row     keyRow
	)
	err := s.db.QueryRow(ctx, s.appendSQL, streamID, int64(expected), keyArg, checkReplay, uuids, types, contentTypes, data, meta, s.tenant, hashArg).
		Scan(&outcome, &row.version, &row.txid, &row.position, &row.hash, &row.code, &row.message)
	if err != nil {
		return eventstore.KeyRecord{}, s.backendError("append to stream "+quote(streamID), err)
	}
	if outcome == 0 {
		s.signals.notify(s.tenant)
	}
	if outcome == 2 && row.message != nil {
		return row.record(streamID)
	}
	res, err := appendResult(streamID, expected, ids, outcome, row.version, row.txid, row.position)
	return eventstore.KeyRecord{Hash: deref(row.hash), Result: res}, err
}

// appendExact is the fast path of an append at an exact version (what a
// command handler sends): one plain INSERT of the events at the versions
// after expected, taken only when event number expected is stored, with no
// function call, no stream row and no probe for a replay
// (schema/009_version_from_events.sql). It reports ok=false, having written
// nothing, when the stream is not at the expected version, either because
// event expected is missing or because a concurrent append took the next
// version first (a unique violation on events_stream_version, after waiting
// for that append to end); appendOnce then calls append_events, which tells
// a conflict from a retried append. A reused event ID fails with the unique
// violation appendPrepared already handles.
//
// It skips the stream-order check of append_events because it only runs in a transaction of its own: its snapshot saw the
// expected version committed, and its transaction ID is taken after that,
// so it is above the ID of every earlier append to the stream.
func (s *Store) appendExact(ctx context.Context, streamID string, expected eventstore.ExpectedVersion,
	ids []string, uuids []pgtype.UUID, types, contentTypes []string, data, meta [][]byte) (eventstore.AppendResult, bool, error) {
	var (
		version  int64
		txid     uint64
		position int64
	)
	var err error
	if n := len(uuids); n <= maxRowsPerFastAppend {
		version, txid, position, err = s.appendRows(ctx, streamID, expected, uuids, types, contentTypes, data, meta)
	} else {
		err = s.db.QueryRow(ctx, s.appendExactSQL, streamID, int64(expected), uuids, types, contentTypes, data, meta, s.tenant).
			Scan(&version, &txid, &position)
	}
	if errors.Is(err, pgx.ErrNoRows) || isVersionTaken(err) {
		return eventstore.AppendResult{}, false, nil
	}
	if err != nil {
		return eventstore.AppendResult{}, false, s.backendError("append to stream "+quote(streamID), err)
	}
	s.signals.notify(s.tenant)
	return eventstore.AppendResult{StreamVersion: version, Position: eventstore.Position{Commit: txid, Sequence: uint64(position)}}, true, nil
}

// maxRowsPerFastAppend is the most events an append at an exact version
// sends as rows of a VALUES list, each its own parameters; larger appends
// send arrays. Rows plan and encode cheaper than unnest over arrays: for 10
// events about a third less server CPU on the benchmark machine.
const maxRowsPerFastAppend = 16

// appendRowsSQL is the fast path's INSERT for n events: $1 the stream, $2
// the expected version, $3 the tenant, then five parameters per event.
func appendRowsSQL(q string, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + q + ".events (tenant_id, stream_id, version, event_id, type, content_type, data, metadata)\n" +
		"SELECT $3, $1, $2 + v.i, v.id, v.t, v.ct, v.d, v.m FROM (VALUES ")
	for i := range n {
		p := 4 + 5*i
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%d, $%d::uuid, $%d::text, $%d::text, $%d::bytea, $%d::jsonb)", i+1, p, p+1, p+2, p+3, p+4)
	}
	b.WriteString(") AS v(i, id, t, ct, d, m)\n" +
		"WHERE EXISTS (SELECT FROM " + q + ".events p WHERE p.tenant_id = $3 AND p.stream_id = $1 AND p.version = $2 AND p.type NOT IN ('" + tombstoneType + "', '" + archivedType + "'))\n" +
		"RETURNING version, transaction_id, global_position")
	return b.String()
}

// appendRows runs appendRowsSQL and returns the last event's version and
// position, or pgx.ErrNoRows when nothing was inserted.
func (s *Store) appendRows(ctx context.Context, streamID string, expected eventstore.ExpectedVersion,
	uuids []pgtype.UUID, types, contentTypes []string, data, meta [][]byte) (version int64, txid uint64, position int64, err error) {
	n := len(uuids)
	args := make([]any, 3, 3+5*n)
	args[0], args[1], args[2] = streamID, int64(expected), s.tenant
	for i := range n {
		args = append(args, uuids[i], types[i], contentTypes[i], data[i], meta[i])
	}
	rows, err := s.db.Query(ctx, s.appendRowsSQL[n], args...)
	if err != nil {
		return 0, 0, 0, err
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var v, p int64
		var x uint64
		if err := rows.Scan(&v, &x, &p); err != nil {
			return 0, 0, 0, err
		}
		if v > version {
			version, txid, position = v, x, p
		}
		got++
	}
	if err := rows.Err(); err != nil {
		return 0, 0, 0, err
	}
	if got == 0 {
		return 0, 0, 0, pgx.ErrNoRows
	}
	if got != n {
		return 0, 0, 0, fmt.Errorf("%d rows inserted for %d events", got, n)
	}
	return version, txid, position, nil
}

// isVersionTaken reports whether err is a unique violation on a stream's
// version: another append stored that version first.
func isVersionTaken(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "events_stream_version"
}

// appendResult turns one row of append_events into
// the caller's result.
func appendResult(streamID string, expected eventstore.ExpectedVersion, ids []string, outcome int, version int64, txid *uint64, position *int64) (eventstore.AppendResult, error) {
	switch outcome {
	case 0, 2:
		if txid == nil || position == nil {
			return eventstore.AppendResult{}, fmt.Errorf("pgstore: append to stream %s: no position returned", quote(streamID))
		}
		return eventstore.AppendResult{
			StreamVersion: version,
			Position:      eventstore.Position{Commit: *txid, Sequence: uint64(*position)},
			Replayed:      outcome == 2,
		}, nil
	case 1:
		return eventstore.AppendResult{}, &eventstore.ConcurrencyError{StreamID: streamID, Expected: expected, Actual: version}
	case outcomeTombstoned:
		return eventstore.AppendResult{}, deletedError("append to", streamID)
	case outcomeArchived:
		return eventstore.AppendResult{}, archivedError("append to", streamID)
	default:
		return eventstore.AppendResult{}, fmt.Errorf("pgstore: append to stream %s: event ID %s is already stored by a different append: %w",
			quote(streamID), ids[0], eventstore.ErrDuplicateEvent)
	}
}

// Changed returns a channel that is closed after the next append of the
// view's tenant (of any tenant, on the AllTenants view) made through this
// Store or any of its views, so tailers in the same process wake up at once
// instead of waiting for their next poll. Appends by other processes are
// found by polling.
func (s *Store) Changed() <-chan struct{} {
	return s.signals.wait(s.tenant, s.all)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, streamID string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	if err := eventstore.ValidateStreamID(streamID); err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, &eventstore.InvalidInputError{Field: "limit", Reason: "must not be negative"}
	}
	if s.all {
		return nil, errAllTenants
	}
	sql := s.readFwdSQL
	if dir == eventstore.Backward {
		sql = s.readBwdSQL
	}
	lim := int64(limit)
	if limit == 0 {
		lim = 1<<63 - 1
	}
	recs, err := s.query(ctx, int(min(lim, 64)), "read stream "+quote(streamID), sql, streamID, from, lim, s.tenant)
	if err != nil || len(recs) > 0 {
		return recs, err
	}
	return nil, s.streamState(ctx, streamID)
}

// ReadAll implements eventstore.Store. It returns events in (transaction ID,
// sequence) order and only from transactions older than every transaction
// still running in the cluster, so it never skips an event that commits
// late. A long-running write transaction anywhere in the cluster therefore
// holds back ReadAll until it ends. It returns the view's tenant's events
// only; the AllTenants view returns every tenant's.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	if limit < 0 {
		return nil, &eventstore.InvalidInputError{Field: "limit", Reason: "must not be negative"}
	}
	if limit == 0 {
		limit = s.opts.ReadAllLimit
	}
	if after.Sequence > 1<<63-1 {
		return nil, &eventstore.InvalidInputError{Field: "position", Reason: "sequence out of range"}
	}
	kind := s.kind()
	if kind == viewTenant {
		return s.query(ctx, limit, "read all", s.readAllSQL[kind], after.Commit, int64(after.Sequence), limit, s.tenant)
	}
	return s.query(ctx, limit, "read all", s.readAllSQL[kind], after.Commit, int64(after.Sequence), limit)
}

// Head returns the position of the view's last committed event, or the
// zero Position when it has none. While an older write transaction is still
// open, ReadAll cannot return events up to Head yet: the difference is the
// lag that transaction causes, which projections report.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var txid uint64
	var pos int64
	var args []any
	if s.kind() == viewTenant {
		args = []any{s.tenant}
	}
	err := s.db.QueryRow(ctx, s.headSQL[s.kind()], args...).Scan(&txid, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Position{}, nil
	}
	if err != nil {
		return eventstore.Position{}, s.backendError("head", err)
	}
	return eventstore.Position{Commit: txid, Sequence: uint64(pos)}, nil
}

// PruneCommandKeys deletes command keys recorded before cutoff and returns how
// many it deleted: the view's tenant's keys, or every tenant's on the
// AllTenants view. A command retried after its key was pruned runs again:
// choose a cutoff longer than any client retries (a week is typical) and run
// it periodically.
func (s *Store) PruneCommandKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	var tag pgconn.CommandTag
	var err error
	if s.all {
		tag, err = s.db.Exec(ctx, s.pruneAllKeysSQL, cutoff)
	} else {
		tag, err = s.db.Exec(ctx, s.pruneKeysSQL, cutoff, s.tenant)
	}
	if err != nil {
		return 0, s.backendError("prune command keys", err)
	}
	return tag.RowsAffected(), nil
}

func (s *Store) query(ctx context.Context, expect int, op, sql string, args ...any) ([]eventstore.Record, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, s.backendError(op, err)
	}
	defer rows.Close()
	var out []eventstore.Record
	for rows.Next() {
		var (
			r    eventstore.Record
			pos  int64
			meta []byte
		)
		if err := rows.Scan(&r.Position.Commit, &pos, &r.StreamID, &r.Version, &r.ID, &r.Type, &r.ContentType, &r.Data, &meta, &r.RecordedAt, &r.Tenant); err != nil {
			return nil, s.backendError(op, err)
		}
		r.Position.Sequence = uint64(pos)
		if out == nil {
			// Sized once from the caller's limit (capped): growing it by
			// appends copied a full page of records several times. Not
			// before the first row, so an empty poll allocates nothing.
			out = make([]eventstore.Record, 0, max(1, min(expect, 1000)))
		}
		if len(meta) > 0 {
			if err := decodeMetadata(meta, &r.Metadata); err != nil {
				return nil, fmt.Errorf("pgstore: %s: metadata of event %s: %w", op, r.ID, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.backendError(op, err)
	}
	return out, nil
}

// backendError wraps a PostgreSQL error. Values PostgreSQL refuses become an
// *eventstore.InvalidInputError that still unwraps to the *pgconn.PgError.
func (s *Store) backendError(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") { // class 22: data exception
		return &eventstore.InvalidInputError{Field: "value", Reason: pgErr.Message, Err: err}
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

func validateKey(k string) error {
	if len(k) > eventstore.MaxStreamIDBytes {
		return &eventstore.InvalidInputError{Field: "command key", Reason: "is longer than 512 bytes"}
	}
	if k != "" {
		if err := eventstore.ValidateStreamID(k); err != nil {
			return &eventstore.InvalidInputError{Field: "command key", Reason: "must be valid UTF-8 without NUL bytes"}
		}
	}
	return nil
}

// quote keeps hostile stream IDs readable and unambiguous in messages.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// parseUUID decodes a UUID already checked by eventstore.IsEventID.
func parseUUID(s string) pgtype.UUID {
	var u pgtype.UUID
	j := 0
	for i := 0; i < len(s) && j < 16; i++ {
		if s[i] == '-' {
			continue
		}
		u.Bytes[j] = unhex(s[i])<<4 | unhex(s[i+1])
		i++
		j++
	}
	u.Valid = true
	return u
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// sleepBriefly waits a little more at each retry: 50µs, 100µs, ... up to 5ms.
func sleepBriefly(ctx context.Context, attempt int) error {
	d := min(time.Duration(50<<min(attempt, 7))*time.Microsecond, 5*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
