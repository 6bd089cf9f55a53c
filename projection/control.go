package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

// A faulted Runner can be resumed from another process through the
// read-model store, with no server of its own: the Runner publishes its
// fault as a document of the projection's control namespace (package wire
// spells it), and, only while it is faulted, polls that namespace for a
// request to retry or skip. It answers each request with an outcome
// document the requester waits for. Package projectionops is the
// requester's side.

// controlPoll is how often a faulted Runner looks for a request.
var controlPoll = 500 * time.Millisecond

// ErrNoAnswer reports that no Runner answered a request in time: the
// process running the faulted partition is stopped or unreachable.
var ErrNoAnswer = errors.New("projection: no runner answered the request")

// awaitOperator publishes the Runner's fault on rec and waits until an
// operator retries or skips it, in this process (Retry, Skip) or from
// another (projectionops.Control), or ctx ends. It then withdraws the fault
// report.
func (r *Runner) awaitOperator(ctx context.Context, rec eventstore.Record, f Fault) (retry bool, _ error) {
	ns := wire.ControlNamespace(r.cfg.Projection.name, r.cfg.Tenant)
	version, partition := r.cfg.Projection.version, r.cfg.Partition
	report := wire.Fault{Projection: r.cfg.Projection.name, Version: version, Tenant: r.cfg.Tenant, Partition: partition,
		EventID: rec.ID, StreamID: rec.StreamID, StreamVersion: rec.Version, Type: rec.Type, Position: rec.Position,
		Err: f.Err, Attempts: f.Attempts, Since: f.Since.UTC()}
	if r.cfg.Spread {
		report.Partitions = r.cfg.Partitions
	}
	data, _ := json.Marshal(report)
	entry := wire.FaultEntry(version, partition)
	if _, err := r.cfg.Store.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: wire.FaultID(version, partition), Revision: wire.ControlRevision(), Data: data, Entries: []readmodel.Entry{entry}}}}); err != nil {
		// Retry and Skip in this process still work.
		r.log.Warn("could not publish the fault; projections retry|skip from another process will not reach this runner", "err", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := r.cfg.Store.Apply(dctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: wire.FaultID(version, partition), Revision: wire.ControlRevision(), Delete: true}}}); err != nil {
			r.log.Warn("could not withdraw the fault report", "err", err)
		}
	}()
	t := time.NewTicker(controlPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case retry = <-r.ctrl:
			return retry, nil
		case <-t.C:
		}
		req, ok, err := r.pendingRequest(ctx, ns, version, partition)
		if err != nil {
			r.log.Debug("could not read control requests", "err", err)
			continue
		}
		if !ok {
			continue
		}
		out := wire.Outcome{RequestID: req.ID, Action: req.Action, Done: req.Position == rec.Position, At: time.Now().UTC()}
		if !out.Done {
			out.Reason = fmt.Sprintf("faulted on the event at %s (ID %s), not on %s", rec.Position, rec.ID, req.Position)
		} else if req.Action != wire.ActionRetry && req.Action != wire.ActionSkip {
			out.Done, out.Reason = false, fmt.Sprintf("unknown action %q", req.Action)
		}
		data, _ := json.Marshal(out)
		if _, err := r.cfg.Store.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: wire.OutcomeID(req.ID), Revision: wire.ControlRevision(), Data: data}}}); err != nil {
			r.log.Warn("could not answer a control request", "request", req.ID, "err", err)
			continue
		}
		if !out.Done {
			r.log.Warn("refused a stale control request", "request", req.ID, "action", req.Action, "reason", out.Reason)
			continue
		}
		r.log.Info("operator request from another process", "request", req.ID, "action", req.Action)
		return req.Action == wire.ActionRetry, nil
	}
}

// pendingRequest returns the partition's latest request unless it was
// answered already.
func (r *Runner) pendingRequest(ctx context.Context, ns readmodel.Namespace, version string, partition int) (wire.Request, bool, error) {
	docs, err := r.cfg.Store.GetMany(ctx, ns, []string{wire.RequestID(version, partition)})
	if err != nil || len(docs) == 0 {
		return wire.Request{}, false, err
	}
	var req wire.Request
	if err := json.Unmarshal(docs[0].Data, &req); err != nil {
		return wire.Request{}, false, err
	}
	answered, err := r.cfg.Store.GetMany(ctx, ns, []string{wire.OutcomeID(req.ID)})
	if err != nil {
		return wire.Request{}, false, err
	}
	return req, len(answered) == 0, nil
}
