package projection

import (
	"context"
	"sync"

	"github.com/eventfold/eventfold/eventstore"
)

// StoreHooks intercept the calls a decorated event store passes to the
// store it wraps (see DecorateStore). A nil hook passes the call through.
type StoreHooks struct {
	// Append runs around every Append and AppendKeyed. It calls next, with
	// the ctx and events to append (which it may replace, but must not
	// modify in place), and returns what next returned or its own error.
	Append func(ctx context.Context, streamID string, events []eventstore.Event,
		next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error)
	// ReadStream runs around every ReadStream.
	ReadStream func(ctx context.Context, streamID string,
		next func(context.Context) ([]eventstore.Record, error)) ([]eventstore.Record, error)
	// ReadAll runs around every ReadAll.
	ReadAll func(ctx context.Context, next func(context.Context) ([]eventstore.Record, error)) ([]eventstore.Record, error)
}

// DecorateStore returns inner with hooks around its calls, for metrics,
// tracing and the like. The result implements the optional interfaces inner
// does that eventfold looks for, in any combination: eventstore.KeyedAppender
// and eventstore.OutcomeStore (their appends run through the Append hook
// too), HeadReader and eventstore.TenantScoper, whose tenant views (reached
// with eventstore.ForTenant and eventstore.AllTenants) are inner's views
// decorated with the same hooks. It always implements Notifier: through
// inner's Changed when inner has one, otherwise by waking tailers after each
// successful append made through the decorator.
func DecorateStore(inner eventstore.Store, hooks StoreHooks) eventstore.Store {
	s := &decorated{inner: inner, hooks: hooks}
	s.notifier, _ = inner.(Notifier)
	base := decorateAppendsAndHead(s)
	scoper, ok := inner.(eventstore.TenantScoper)
	if !ok {
		return base
	}
	views := tenantViews{scoper: scoper, viewHooks: hooks}
	switch b := base.(type) {
	case *decoratedOutcomesHead:
		return &decoratedOutcomesHeadTenants{b, views}
	case *decoratedOutcomes:
		return &decoratedOutcomesTenants{b, views}
	case *decoratedKeyedHead:
		return &decoratedKeyedHeadTenants{b, views}
	case *decoratedKeyed:
		return &decoratedKeyedTenants{b, views}
	case *decoratedHead:
		return &decoratedHeadTenants{b, views}
	}
	return &decoratedTenants{s, views}
}

// decorateAppendsAndHead returns s with inner's KeyedAppender or
// OutcomeStore, and HeadReader, kept.
func decorateAppendsAndHead(s *decorated) eventstore.Store {
	head, hasHead := s.inner.(HeadReader)
	if outcomes, ok := s.inner.(eventstore.OutcomeStore); ok {
		o := &decoratedOutcomes{&decoratedKeyed{s, outcomes}, outcomes}
		if hasHead {
			return &decoratedOutcomesHead{o, head}
		}
		return o
	}
	if keyed, ok := s.inner.(eventstore.KeyedAppender); ok {
		k := &decoratedKeyed{s, keyed}
		if hasHead {
			return &decoratedKeyedHead{k, head}
		}
		return k
	}
	if hasHead {
		return &decoratedHead{s, head}
	}
	return s
}

// ReadsAllTenants implements eventstore.AllTenantsView for every decorated
// store: the decorated view reads what the store it wraps reads.
func (s *decorated) ReadsAllTenants() bool { return eventstore.ReadsAllTenants(s.inner) }

// decorated wraps a store with no optional interfaces.
type decorated struct {
	inner    eventstore.Store
	hooks    StoreHooks
	notifier Notifier // inner's, or nil

	mu      sync.Mutex
	changed chan struct{} // used when notifier is nil
}

var (
	_ Notifier                 = (*decorated)(nil)
	_ eventstore.KeyedAppender = (*decoratedKeyed)(nil)
	_ HeadReader               = (*decoratedHead)(nil)
	_ eventstore.KeyedAppender = (*decoratedKeyedHead)(nil)
	_ HeadReader               = (*decoratedKeyedHead)(nil)
)

func (s *decorated) append(ctx context.Context, streamID string, events []eventstore.Event,
	next func(context.Context, []eventstore.Event) (eventstore.AppendResult, error)) (eventstore.AppendResult, error) {
	var res eventstore.AppendResult
	var err error
	if s.hooks.Append != nil {
		res, err = s.hooks.Append(ctx, streamID, events, next)
	} else {
		res, err = next(ctx, events)
	}
	s.wake(err)
	return res, err
}

func (s *decorated) Append(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	return s.append(ctx, streamID, events, func(ctx context.Context, events []eventstore.Event) (eventstore.AppendResult, error) {
		return s.inner.Append(ctx, streamID, expected, events)
	})
}

func (s *decorated) ReadStream(ctx context.Context, streamID string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error) {
	next := func(ctx context.Context) ([]eventstore.Record, error) {
		return s.inner.ReadStream(ctx, streamID, from, dir, limit)
	}
	if s.hooks.ReadStream == nil {
		return next(ctx)
	}
	return s.hooks.ReadStream(ctx, streamID, next)
}

func (s *decorated) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	next := func(ctx context.Context) ([]eventstore.Record, error) { return s.inner.ReadAll(ctx, after, limit) }
	if s.hooks.ReadAll == nil {
		return next(ctx)
	}
	return s.hooks.ReadAll(ctx, next)
}

// Changed implements Notifier.
func (s *decorated) Changed() <-chan struct{} {
	if s.notifier != nil {
		return s.notifier.Changed()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// wake closes the channel Changed handed out, after a successful append,
// when inner cannot notify by itself.
func (s *decorated) wake(err error) {
	if err != nil || s.notifier != nil {
		return
	}
	s.mu.Lock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
}

type decoratedKeyed struct {
	*decorated
	keyed eventstore.KeyedAppender
}

func (s *decoratedKeyed) AppendKeyed(ctx context.Context, commandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	return s.append(ctx, streamID, events, func(ctx context.Context, events []eventstore.Event) (eventstore.AppendResult, error) {
		return s.keyed.AppendKeyed(ctx, commandKey, streamID, expected, events)
	})
}

type decoratedHead struct {
	*decorated
	head HeadReader
}

func (s *decoratedHead) Head(ctx context.Context) (eventstore.Position, error) {
	return s.head.Head(ctx)
}

type decoratedKeyedHead struct {
	*decoratedKeyed
	head HeadReader
}

func (s *decoratedKeyedHead) Head(ctx context.Context) (eventstore.Position, error) {
	return s.head.Head(ctx)
}

// decoratedOutcomes forwards eventstore.OutcomeStore; AppendCommand runs
// through the Append hook.
type decoratedOutcomes struct {
	*decoratedKeyed
	outcomes eventstore.OutcomeStore
}

func (s *decoratedOutcomes) AppendCommand(ctx context.Context, key eventstore.CommandKey, streamID string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.KeyRecord, error) {
	var rec eventstore.KeyRecord
	_, err := s.append(ctx, streamID, events, func(ctx context.Context, events []eventstore.Event) (eventstore.AppendResult, error) {
		var err error
		rec, err = s.outcomes.AppendCommand(ctx, key, streamID, expected, events)
		return rec.Result, err
	})
	return rec, err
}

func (s *decoratedOutcomes) RecordRefusal(ctx context.Context, key eventstore.CommandKey, streamID string, refusal eventstore.Refusal) (eventstore.KeyRecord, error) {
	return s.outcomes.RecordRefusal(ctx, key, streamID, refusal)
}

func (s *decoratedOutcomes) LookupKey(ctx context.Context, key string) (eventstore.KeyRecord, bool, error) {
	return s.outcomes.LookupKey(ctx, key)
}

type decoratedOutcomesHead struct {
	*decoratedOutcomes
	head HeadReader
}

func (s *decoratedOutcomesHead) Head(ctx context.Context) (eventstore.Position, error) {
	return s.head.Head(ctx)
}

// tenantViews implements eventstore.TenantScoper for every decorated store
// whose inner store has tenant views: each view is inner's, decorated with
// the same hooks.
type tenantViews struct {
	scoper    eventstore.TenantScoper
	viewHooks StoreHooks
}

func (v tenantViews) StoreForTenant(tenant string) (eventstore.Store, error) {
	view, err := v.scoper.StoreForTenant(tenant)
	if err != nil {
		return nil, err
	}
	return DecorateStore(view, v.viewHooks), nil
}

func (v tenantViews) StoreForAllTenants() eventstore.Store {
	return DecorateStore(v.scoper.StoreForAllTenants(), v.viewHooks)
}

// One type per combination: a type assertion sees only the methods a
// type has.
type (
	decoratedTenants struct {
		*decorated
		tenantViews
	}
	decoratedHeadTenants struct {
		*decoratedHead
		tenantViews
	}
	decoratedKeyedTenants struct {
		*decoratedKeyed
		tenantViews
	}
	decoratedKeyedHeadTenants struct {
		*decoratedKeyedHead
		tenantViews
	}
	decoratedOutcomesTenants struct {
		*decoratedOutcomes
		tenantViews
	}
	decoratedOutcomesHeadTenants struct {
		*decoratedOutcomesHead
		tenantViews
	}
)

var (
	_ eventstore.TenantScoper  = (*decoratedTenants)(nil)
	_ eventstore.TenantScoper  = (*decoratedHeadTenants)(nil)
	_ HeadReader               = (*decoratedHeadTenants)(nil)
	_ eventstore.TenantScoper  = (*decoratedKeyedTenants)(nil)
	_ eventstore.KeyedAppender = (*decoratedKeyedTenants)(nil)
	_ eventstore.TenantScoper  = (*decoratedKeyedHeadTenants)(nil)
	_ HeadReader               = (*decoratedKeyedHeadTenants)(nil)
	_ eventstore.OutcomeStore  = (*decoratedOutcomes)(nil)
	_ eventstore.TenantScoper  = (*decoratedOutcomesTenants)(nil)
	_ eventstore.OutcomeStore  = (*decoratedOutcomesTenants)(nil)
	_ eventstore.TenantScoper  = (*decoratedOutcomesHeadTenants)(nil)
	_ eventstore.OutcomeStore  = (*decoratedOutcomesHeadTenants)(nil)
	_ HeadReader               = (*decoratedOutcomesHeadTenants)(nil)
)
