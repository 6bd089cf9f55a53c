// Package projection turns the event store's global log into read models.
//
// A [Projection] names a read model and registers a handler per event type
// ([Projection.On], or the typed [Handle]). Typed handlers decode events
// through the command side's command.Registry, given to [New]: the same type
// names, upcasters and codec as the deciders, so a projection folds the
// values a decider folds. A [Runner] feeds it the log from
// a [Source] ([LogSource] tails an event store directly; adapters/watermillbus
// reads the log back from any Watermill subscriber) and writes the result to
// a readmodel.Store, usually Redis.
//
// # Batches and checkpoints
//
// A Runner applies events in batches. Handlers read and write documents
// through a [Tx], which sees the batch's earlier writes; the Runner then
// commits the batch's writes and the projection's checkpoint in one atomic
// readmodel Apply. A crash at any point leaves the read model and its
// checkpoint in agreement, and a restart resumes at the checkpoint. Every
// write carries the position of its event as its revision, so an event
// delivered twice never moves a document backwards.
//
// While a Runner catches up from a [LogSource], it reads the next batch of
// the log, and decodes its events for the handlers registered with
// [Handle], while it applies the current one.
//
// Each read-model namespace carries an epoch, set when it is created, and
// every batch is conditional on it (readmodel.Batch.IfCheckpoint). A Runner
// therefore notices at once when the store lost the namespace (Redis
// restarted without persistence) or a newer version took over, and never
// writes into a namespace it does not own.
//
// # Versions, rebuilds and readers
//
// Readers find the version being served with [Active] and read from its
// namespace. Changing a projection's version builds the new read model from
// the start of the log beside the old one, which keeps serving. When the new
// version has caught up, it freezes the old version's writes, waits until it
// has applied at least as much as the old one, switches the active pointer
// in one write and drops the old version: readers never see a gap or data
// going backwards. The old version's Runner then retires ([ErrRetired]). A
// read model that is lost is rebuilt the same way; until it is ready,
// [Active] and [WaitFor] report [ErrNotReady].
//
// Every Runner also records its projection's name, version, tenant and
// partitions in a catalog kept in the read-model store (a reserved
// namespace), so that operators' tools find the projections an application
// runs: package projectionops lists them and tells how far each has got.
//
// # Read-your-writes
//
// [WaitFor] waits until the active version has applied everything up to a
// consistency token (the position a command's append returned), reading only
// the read-model store. A server keeps one [Waiter] per projection; given the
// projection's [Runner] in the same process ([WaiterOptions].Runner), it
// answers from the Runner's commits without reading the store.
//
// # Partitions and faults
//
// A projection can run as N partitions keyed by stream ID, each its own
// Runner with its own checkpoint, in one process or several; events of a
// stream are applied in order by one partition. An event whose handler keeps
// failing stops its partition in [StateFaulted], with the event and the
// error in [Status]; other partitions go on. An operator resumes it with
// [Runner.Retry] or passes over the event with [Runner.Skip], which is
// logged; from another process, projectionops.Control does the same
// through the read-model store, where a faulted Runner publishes its fault.
// Transient store errors are retried with backoff and never skip anything;
// while they go on the partition is in [StateUnavailable], not faulted.
//
// With [Config.Spread] each partition also keeps its documents in a
// namespace of its own, so that a Redis Cluster spreads one read model over
// its masters; queries read it through [Serving], and a commit a failover
// lost is noticed and redone.
//
// [Rebuild] rebuilds the version being served as a new generation of it,
// switching readers over like a new version; its Runners follow.
//
// # Forgetting a subject
//
// [Projection.OnForget] registers a hook that removes a subject's personal
// data from the read model when command.Forget forgets the subject; the
// Runner applies it in log order, atomically with its checkpoint.
//
// # Operations
//
// Package projectionops holds what operators' tools and probes use: the
// catalog listing, inspection of versions and checkpoints, the control
// protocol's requesting side and health checks over Runners' Status.
package projection
