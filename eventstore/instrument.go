package eventstore

import "context"

// Hooks intercept the calls an instrumented store (see Instrument) passes
// to the store it wraps, for metrics, tracing and the like. Each hook runs
// around one kind of call: it calls next, usually with the ctx it was
// given or one derived from it, and returns what next returned or its own
// error. A nil hook passes the call through.
type Hooks struct {
	// Append runs around every Append, KeyedAppender.AppendKeyed and
	// OutcomeStore.AppendCommand. It calls next with the ctx and events to
	// append, which it may replace (it must not modify the caller's events
	// in place).
	Append func(ctx context.Context, streamID string, events []Event,
		next func(context.Context, []Event) (AppendResult, error)) (AppendResult, error)
	// ReadStream runs around every ReadStream.
	ReadStream func(ctx context.Context, streamID string,
		next func(context.Context) ([]Record, error)) ([]Record, error)
	// ReadAll runs around every ReadAll and FilteredReader.ReadAllFiltered,
	// of the store and of its tenant views and all-tenants reader.
	ReadAll func(ctx context.Context, next func(context.Context) ([]Record, error)) ([]Record, error)
}

// Instrument returns inner with hooks around its calls. The result keeps
// every capability of inner, and claims none that inner lacks: [As] on it
// finds inner's KeyedAppender and OutcomeStore with their appends running
// through the Append hook, inner's FilteredReader with its reads running
// through the ReadAll hook, and inner's TenantScoper with views that are
// instrumented with the same hooks. Every other capability, eventfold's
// (HeadReader, Notifier, AllTenantsView) or a third party's, is inner's
// own, reached through the result's Unwrap method.
func Instrument(inner Store, hooks Hooks) Store {
	return &instrumented{instrumentedLog: instrumentedLog{inner: inner, hooks: hooks}, inner: inner}
}

// instrumentLog returns r with the ReadAll hook around its reads.
func instrumentLog(r LogReader, hooks Hooks) LogReader {
	return &instrumentedLog{inner: r, hooks: hooks}
}

// instrumentedLog is an instrumented LogReader.
type instrumentedLog struct {
	inner LogReader
	hooks Hooks
}

// Unwrap returns the reader r wraps, so that As reaches its capabilities.
func (r *instrumentedLog) Unwrap() LogReader { return r.inner }

// As offers inner's FilteredReader with its reads running through the
// ReadAll hook.
func (r *instrumentedLog) As(target any) bool {
	t, ok := target.(*FilteredReader)
	if !ok {
		return false
	}
	fr, ok := As[FilteredReader](r.inner)
	if ok {
		*t = instrumentedFiltered{fr, r.hooks}
	}
	return ok
}

// instrumentedFiltered is the FilteredReader of an instrumented log.
type instrumentedFiltered struct {
	inner FilteredReader
	hooks Hooks
}

func (r instrumentedFiltered) ReadAllFiltered(ctx context.Context, after Position, f Filter, limit int) (FilteredPage, error) {
	if r.hooks.ReadAll == nil {
		return r.inner.ReadAllFiltered(ctx, after, f, limit)
	}
	var page FilteredPage
	recs, err := r.hooks.ReadAll(ctx, func(ctx context.Context) ([]Record, error) {
		var err error
		page, err = r.inner.ReadAllFiltered(ctx, after, f, limit)
		return page.Records, err
	})
	page.Records = recs
	return page, err
}

func (r *instrumentedLog) ReadAll(ctx context.Context, after Position, limit int) ([]Record, error) {
	next := func(ctx context.Context) ([]Record, error) { return r.inner.ReadAll(ctx, after, limit) }
	if r.hooks.ReadAll == nil {
		return next(ctx)
	}
	return r.hooks.ReadAll(ctx, next)
}

// instrumented is an instrumented Store. It implements Store and nothing
// else; its As method offers the capabilities whose calls run through
// hooks.
type instrumented struct {
	instrumentedLog
	inner Store
}

// Unwrap returns the store s wraps, so that As reaches its capabilities.
func (s *instrumented) Unwrap() Store { return s.inner }

// As offers inner's capabilities whose calls go through hooks, each only
// when inner has it. Adding a hooked capability adds one case here.
func (s *instrumented) As(target any) bool {
	switch t := target.(type) {
	case *OutcomeStore:
		o, ok := As[OutcomeStore](s.inner)
		if ok {
			*t = &instrumentedOutcomes{instrumentedKeyed{s, o}, o}
		}
		return ok
	case *KeyedAppender:
		k, ok := As[KeyedAppender](s.inner)
		if ok {
			*t = &instrumentedKeyed{s, k}
		}
		return ok
	case *TenantScoper:
		ts, ok := As[TenantScoper](s.inner)
		if ok {
			*t = instrumentedTenants{ts, s.hooks}
		}
		return ok
	}
	return s.instrumentedLog.As(target)
}

func (s *instrumented) append(ctx context.Context, streamID string, events []Event,
	next func(context.Context, []Event) (AppendResult, error)) (AppendResult, error) {
	if s.hooks.Append == nil {
		return next(ctx, events)
	}
	return s.hooks.Append(ctx, streamID, events, next)
}

func (s *instrumented) Append(ctx context.Context, streamID string, expected ExpectedVersion, events []Event) (AppendResult, error) {
	return s.append(ctx, streamID, events, func(ctx context.Context, events []Event) (AppendResult, error) {
		return s.inner.Append(ctx, streamID, expected, events)
	})
}

func (s *instrumented) ReadStream(ctx context.Context, streamID string, from int64, dir Direction, limit int) ([]Record, error) {
	next := func(ctx context.Context) ([]Record, error) {
		return s.inner.ReadStream(ctx, streamID, from, dir, limit)
	}
	if s.hooks.ReadStream == nil {
		return next(ctx)
	}
	return s.hooks.ReadStream(ctx, streamID, next)
}

// instrumentedKeyed is the KeyedAppender of an instrumented store.
type instrumentedKeyed struct {
	*instrumented
	keyed KeyedAppender
}

func (s *instrumentedKeyed) AppendKeyed(ctx context.Context, commandKey, streamID string, expected ExpectedVersion, events []Event) (AppendResult, error) {
	return s.append(ctx, streamID, events, func(ctx context.Context, events []Event) (AppendResult, error) {
		return s.keyed.AppendKeyed(ctx, commandKey, streamID, expected, events)
	})
}

// instrumentedOutcomes is the OutcomeStore of an instrumented store.
type instrumentedOutcomes struct {
	instrumentedKeyed
	outcomes OutcomeStore
}

func (s *instrumentedOutcomes) AppendCommand(ctx context.Context, key CommandKey, streamID string, expected ExpectedVersion, events []Event) (KeyRecord, error) {
	var rec KeyRecord
	_, err := s.append(ctx, streamID, events, func(ctx context.Context, events []Event) (AppendResult, error) {
		var err error
		rec, err = s.outcomes.AppendCommand(ctx, key, streamID, expected, events)
		return rec.Result, err
	})
	return rec, err
}

func (s *instrumentedOutcomes) RecordRefusal(ctx context.Context, key CommandKey, streamID string, refusal Refusal) (KeyRecord, error) {
	return s.outcomes.RecordRefusal(ctx, key, streamID, refusal)
}

func (s *instrumentedOutcomes) LookupKey(ctx context.Context, key string) (KeyRecord, bool, error) {
	return s.outcomes.LookupKey(ctx, key)
}

// instrumentedTenants is the TenantScoper of an instrumented store: its
// views are instrumented with the same hooks.
type instrumentedTenants struct {
	scoper TenantScoper
	hooks  Hooks
}

func (v instrumentedTenants) StoreForTenant(tenant string) (Store, error) {
	view, err := v.scoper.StoreForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return Instrument(view, v.hooks), nil
}

func (v instrumentedTenants) StoreForAllTenants() LogReader {
	return instrumentLog(v.scoper.StoreForAllTenants(), v.hooks)
}
