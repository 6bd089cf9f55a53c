package projection

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/readmodel"
)

// A faulted Runner can be resumed from another process through the
// read-model store, with no server of its own: the Runner publishes its
// fault as a document of the projection's control namespace, and, only while
// it is faulted, polls that namespace for a request to retry or skip. It
// answers each request with an outcome document the requester waits for.
//
// Documents of {Projection: name, Version: "$control", Tenant: tenant}:
//
//	fault/<version>/<partition>    the fault, indexed under "faults"
//	request/<version>/<partition>  the latest request for that partition
//	outcome/<request ID>           what the Runner did with a request
const (
	controlVersion = "$control"
	faultsIndex    = "faults"
)

// controlPoll is how often a faulted Runner looks for a request.
var controlPoll = 500 * time.Millisecond

// ErrStaleRequest reports a retry or skip that named an event other than
// the one the partition is faulted on: the fault was resolved, and perhaps
// another event faulted, since the operator looked. Check with errors.Is.
var ErrStaleRequest = errors.New("projection: request names an event the projection is not faulted on")

// ErrNoAnswer reports that no Runner answered a request in time: the
// process running the faulted partition is stopped or unreachable.
var ErrNoAnswer = errors.New("projection: no runner answered the request")

// Action is what an operator asks of a faulted partition.
type Action string

const (
	// ActionRetry runs the failed event's handler again.
	ActionRetry Action = "retry"
	// ActionSkip passes over the failed event without applying it.
	ActionSkip Action = "skip"
)

// FaultReport is a fault as the faulted Runner published it.
type FaultReport struct {
	Projection string `json:"projection"`
	Version    string `json:"version"`
	Tenant     string `json:"tenant,omitempty"`
	Partition  int    `json:"partition"`
	// Partitions is set for a spread read model (Config.Spread), whose
	// partitions keep their checkpoints in namespaces of their own.
	Partitions int `json:"partitions,omitempty"`
	// EventID, StreamID, StreamVersion, Type and Position name the event
	// the handler keeps failing on.
	EventID       string              `json:"event_id"`
	StreamID      string              `json:"stream_id"`
	StreamVersion int64               `json:"stream_version"`
	Type          string              `json:"type"`
	Position      eventstore.Position `json:"position"`
	Err           string              `json:"error"`
	Attempts      int                 `json:"attempts"`
	Since         time.Time           `json:"since"`
}

// ControlRequest asks the Runner of one partition to retry or skip the event
// it is faulted on.
type ControlRequest struct {
	Version   string
	Partition int
	Action    Action
	// Position is the position of the event the operator means. The
	// Runner refuses the request (ErrStaleRequest) if it is faulted on
	// another event.
	Position eventstore.Position
}

// ControlOutcome is a Runner's answer to a ControlRequest.
type ControlOutcome struct {
	RequestID string    `json:"request_id"`
	Action    Action    `json:"action"`
	Done      bool      `json:"done"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

type controlRequestDoc struct {
	ID          string              `json:"id"`
	Action      Action              `json:"action"`
	Position    eventstore.Position `json:"position"`
	RequestedAt time.Time           `json:"requested_at"`
}

func controlNamespace(projection, tenant string) readmodel.Namespace {
	return readmodel.Namespace{Projection: projection, Version: controlVersion, Tenant: tenant}
}

func faultID(version string, partition int) string {
	return "fault/" + version + "/" + strconv.Itoa(partition)
}

func requestID(version string, partition int) string {
	return "request/" + version + "/" + strconv.Itoa(partition)
}

// controlRevision orders the writes of one process to a control document.
func controlRevision() readmodel.Revision {
	return readmodel.Revision{Commit: uint64(time.Now().UnixNano())}
}

// Faults returns the faults the Runners of projection (for tenant, "" for
// none) have published and not resolved, in every version, ordered by
// version and partition. A fault whose partition has since moved past the
// event (a process that stopped while faulted leaves its report behind) is
// left out.
func Faults(ctx context.Context, r readmodel.Reader, projection, tenant string) ([]FaultReport, error) {
	ns := controlNamespace(projection, tenant)
	var out []FaultReport
	q := readmodel.All(faultsIndex)
	for {
		page, err := r.Query(ctx, ns, q)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Documents {
			var f FaultReport
			if err := json.Unmarshal(d.Data, &f); err != nil {
				return nil, fmt.Errorf("projection: fault report %s of %q: %w", d.ID, projection, err)
			}
			resolved, err := pastFault(ctx, r, f)
			if err != nil {
				return nil, err
			}
			if !resolved {
				out = append(out, f)
			}
		}
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}

// pastFault reports whether f's partition has committed its event or a
// later one, or its version is gone.
func pastFault(ctx context.Context, r readmodel.Reader, f FaultReport) (bool, error) {
	ns := readmodel.Namespace{Projection: f.Projection, Version: f.Version, Tenant: f.Tenant}
	if f.Partitions > 0 {
		ns = ns.WithPartition(f.Partition, f.Partitions)
	}
	doc, err := r.Get(ctx, ns, checkpointID(f.Partition))
	if errors.Is(err, readmodel.ErrNotFound) {
		st, err := r.State(ctx, ns)
		return err == nil && !st.Initialized, err
	}
	if err != nil {
		return false, err
	}
	var cp checkpoint
	if err := json.Unmarshal(doc.Data, &cp); err != nil {
		return false, err
	}
	return !cp.Position.Before(f.Position), nil
}

// Control asks the Runner of a faulted partition, in whatever process it
// runs, to retry or skip the event it is faulted on, and waits for its
// answer until ctx ends (ErrNoAnswer). It fails with ErrNotFaulted when the
// partition has published no fault, and with ErrStaleRequest when the
// Runner is faulted on another event than req.Position. A retried event that
// fails again faults the partition again after its attempts.
func Control(ctx context.Context, s readmodel.Store, projection, tenant string, req ControlRequest) (ControlOutcome, error) {
	if req.Action != ActionRetry && req.Action != ActionSkip {
		return ControlOutcome{}, fmt.Errorf("projection: unknown action %q (want retry or skip)", req.Action)
	}
	faults, err := Faults(ctx, s, projection, tenant)
	if err != nil {
		return ControlOutcome{}, err
	}
	var fault *FaultReport
	for i := range faults {
		if faults[i].Version == req.Version && faults[i].Partition == req.Partition {
			fault = &faults[i]
		}
	}
	if fault == nil {
		return ControlOutcome{}, fmt.Errorf("%w: %q version %q partition %d", ErrNotFaulted, projection, req.Version, req.Partition)
	}
	if fault.Position != req.Position {
		return ControlOutcome{}, fmt.Errorf("%w: faulted on %s, not %s", ErrStaleRequest, fault.Position, req.Position)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	doc := controlRequestDoc{ID: hex.EncodeToString(b), Action: req.Action, Position: req.Position, RequestedAt: time.Now().UTC()}
	data, _ := json.Marshal(doc)
	ns := controlNamespace(projection, tenant)
	res, err := s.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: requestID(req.Version, req.Partition), Revision: controlRevision(), Data: data}}})
	if err != nil {
		return ControlOutcome{}, err
	}
	if len(res.Stale) > 0 {
		return ControlOutcome{}, errors.New("projection: a newer request for this partition is pending; wait for it")
	}
	t := time.NewTicker(controlPoll / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ControlOutcome{RequestID: doc.ID, Action: req.Action}, fmt.Errorf("%w about %s of %q partition %d: is its worker running?", ErrNoAnswer, req.Action, projection, req.Partition)
		case <-t.C:
		}
		d, err := s.Get(ctx, ns, "outcome/"+doc.ID)
		if errors.Is(err, readmodel.ErrNotFound) {
			continue
		}
		if err != nil {
			return ControlOutcome{}, err
		}
		var out ControlOutcome
		if err := json.Unmarshal(d.Data, &out); err != nil {
			return ControlOutcome{}, err
		}
		if !out.Done {
			return out, fmt.Errorf("%w: %s", ErrStaleRequest, out.Reason)
		}
		return out, nil
	}
}

// awaitOperator publishes the Runner's fault on rec and waits until an
// operator retries or skips it, in this process (Retry, Skip) or from
// another (Control), or ctx ends. It then withdraws the fault report.
func (r *Runner) awaitOperator(ctx context.Context, rec eventstore.Record, f Fault) (retry bool, _ error) {
	ns := controlNamespace(r.cfg.Projection.name, r.cfg.Tenant)
	version, partition := r.cfg.Projection.version, r.cfg.Partition
	report := FaultReport{Projection: r.cfg.Projection.name, Version: version, Tenant: r.cfg.Tenant, Partition: partition,
		EventID: rec.ID, StreamID: rec.StreamID, StreamVersion: rec.Version, Type: rec.Type, Position: rec.Position,
		Err: f.Err, Attempts: f.Attempts, Since: f.Since.UTC()}
	if r.cfg.Spread {
		report.Partitions = r.cfg.Partitions
	}
	data, _ := json.Marshal(report)
	entry := readmodel.Entry{Index: faultsIndex, Value: readmodel.String(version + "/" + strconv.Itoa(partition))}
	if _, err := r.cfg.Store.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: faultID(version, partition), Revision: controlRevision(), Data: data, Entries: []readmodel.Entry{entry}}}}); err != nil {
		// Retry and Skip in this process still work.
		r.log.Warn("could not publish the fault; projections retry|skip from another process will not reach this runner", "err", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := r.cfg.Store.Apply(dctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: faultID(version, partition), Revision: controlRevision(), Delete: true}}}); err != nil {
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
		out := ControlOutcome{RequestID: req.ID, Action: req.Action, Done: req.Position == rec.Position, At: time.Now().UTC()}
		if !out.Done {
			out.Reason = fmt.Sprintf("faulted on the event at %s (ID %s), not on %s", rec.Position, rec.ID, req.Position)
		} else if req.Action != ActionRetry && req.Action != ActionSkip {
			out.Done, out.Reason = false, fmt.Sprintf("unknown action %q", req.Action)
		}
		data, _ := json.Marshal(out)
		if _, err := r.cfg.Store.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: "outcome/" + req.ID, Revision: controlRevision(), Data: data}}}); err != nil {
			r.log.Warn("could not answer a control request", "request", req.ID, "err", err)
			continue
		}
		if !out.Done {
			r.log.Warn("refused a stale control request", "request", req.ID, "action", req.Action, "reason", out.Reason)
			continue
		}
		r.log.Info("operator request from another process", "request", req.ID, "action", req.Action)
		return req.Action == ActionRetry, nil
	}
}

// pendingRequest returns the partition's latest request unless it was
// answered already.
func (r *Runner) pendingRequest(ctx context.Context, ns readmodel.Namespace, version string, partition int) (controlRequestDoc, bool, error) {
	docs, err := r.cfg.Store.GetMany(ctx, ns, []string{requestID(version, partition)})
	if err != nil || len(docs) == 0 {
		return controlRequestDoc{}, false, err
	}
	var req controlRequestDoc
	if err := json.Unmarshal(docs[0].Data, &req); err != nil {
		return controlRequestDoc{}, false, err
	}
	answered, err := r.cfg.Store.GetMany(ctx, ns, []string{"outcome/" + req.ID})
	if err != nil {
		return controlRequestDoc{}, false, err
	}
	return req, len(answered) == 0, nil
}
