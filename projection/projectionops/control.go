package projectionops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/projection/internal/wire"
	"github.com/eventfold/eventfold/readmodel"
)

// controlPoll is how often Control looks for the Runner's answer: twice
// as often as a faulted Runner looks for requests.
const controlPoll = 250 * time.Millisecond

// ErrStaleRequest reports a retry or skip that named an event other than
// the one the partition is faulted on: the fault was resolved, and perhaps
// another event faulted, since the operator looked. Check with errors.Is.
var ErrStaleRequest = errors.New("projectionops: request names an event the projection is not faulted on")

// Action is what an operator asks of a faulted partition.
type Action string

const (
	// ActionRetry runs the failed event's handler again.
	ActionRetry Action = wire.ActionRetry
	// ActionSkip passes over the failed event without applying it.
	ActionSkip Action = wire.ActionSkip
)

// FaultReport is a fault as the faulted Runner published it.
type FaultReport struct {
	Projection string `json:"projection"`
	Version    string `json:"version"`
	Tenant     string `json:"tenant,omitempty"`
	Partition  int    `json:"partition"`
	// Partitions is set for a spread read model (projection.Config.Spread),
	// whose partitions keep their checkpoints in namespaces of their own.
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

// Faults returns the faults the Runners of projection name (for tenant, "" for
// none) have published and not resolved, in every version, ordered by
// version and partition. A fault whose partition has since moved past the
// event (a process that stopped while faulted leaves its report behind) is
// left out.
func Faults(ctx context.Context, r readmodel.Reader, name, tenant string) ([]FaultReport, error) {
	ns := wire.ControlNamespace(name, tenant)
	var out []FaultReport
	q := readmodel.All(wire.FaultsIndex)
	for {
		page, err := r.Query(ctx, ns, q)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Documents {
			var f wire.Fault
			if err := json.Unmarshal(d.Data, &f); err != nil {
				return nil, fmt.Errorf("projectionops: fault report %s of %q: %w", d.ID, name, err)
			}
			resolved, err := pastFault(ctx, r, f)
			if err != nil {
				return nil, err
			}
			if !resolved {
				out = append(out, FaultReport(f))
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
func pastFault(ctx context.Context, r readmodel.Reader, f wire.Fault) (bool, error) {
	ns := readmodel.Namespace{Projection: f.Projection, Version: f.Version, Tenant: f.Tenant}
	if f.Partitions > 0 {
		ns = ns.WithPartition(f.Partition, f.Partitions)
	}
	doc, err := r.Get(ctx, ns, wire.CheckpointID(f.Partition))
	if errors.Is(err, readmodel.ErrNotFound) {
		st, err := r.State(ctx, ns)
		return err == nil && !st.Initialized, err
	}
	if err != nil {
		return false, err
	}
	var cp wire.Checkpoint
	if err := json.Unmarshal(doc.Data, &cp); err != nil {
		return false, err
	}
	return !cp.Position.Before(f.Position), nil
}

// Control asks the Runner of a faulted partition, in whatever process it
// runs, to retry or skip the event it is faulted on, and waits for its
// answer until ctx ends (projection.ErrNoAnswer). It fails with
// projection.ErrNotFaulted when the partition has published no fault, and
// with ErrStaleRequest when the Runner is faulted on another event than
// req.Position. A retried event that fails again faults the partition again
// after its attempts.
func Control(ctx context.Context, s readmodel.Store, name, tenant string, req ControlRequest) (ControlOutcome, error) {
	if req.Action != ActionRetry && req.Action != ActionSkip {
		return ControlOutcome{}, fmt.Errorf("projectionops: unknown action %q (want retry or skip)", req.Action)
	}
	faults, err := Faults(ctx, s, name, tenant)
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
		return ControlOutcome{}, fmt.Errorf("%w: %q version %q partition %d", projection.ErrNotFaulted, name, req.Version, req.Partition)
	}
	if fault.Position != req.Position {
		return ControlOutcome{}, fmt.Errorf("%w: faulted on %s, not %s", ErrStaleRequest, fault.Position, req.Position)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	doc := wire.Request{ID: hex.EncodeToString(b), Action: string(req.Action), Position: req.Position, RequestedAt: time.Now().UTC()}
	data, _ := json.Marshal(doc)
	ns := wire.ControlNamespace(name, tenant)
	res, err := s.Apply(ctx, ns, readmodel.Batch{Writes: []readmodel.Write{{ID: wire.RequestID(req.Version, req.Partition), Revision: wire.ControlRevision(), Data: data}}})
	if err != nil {
		return ControlOutcome{}, err
	}
	if len(res.Stale) > 0 {
		return ControlOutcome{}, errors.New("projectionops: a newer request for this partition is pending; wait for it")
	}
	return awaitOutcome(ctx, s, ns, doc.ID, name, req)
}

// awaitOutcome waits for the Runner's answer to request id.
func awaitOutcome(ctx context.Context, s readmodel.Reader, ns readmodel.Namespace, id, name string, req ControlRequest) (ControlOutcome, error) {
	t := time.NewTicker(controlPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ControlOutcome{RequestID: id, Action: req.Action}, fmt.Errorf("%w about %s of %q partition %d: is its worker running?", projection.ErrNoAnswer, req.Action, name, req.Partition)
		case <-t.C:
		}
		d, err := s.Get(ctx, ns, wire.OutcomeID(id))
		if errors.Is(err, readmodel.ErrNotFound) {
			continue
		}
		if err != nil {
			return ControlOutcome{}, err
		}
		var w wire.Outcome
		if err := json.Unmarshal(d.Data, &w); err != nil {
			return ControlOutcome{}, err
		}
		out := ControlOutcome{RequestID: w.RequestID, Action: Action(w.Action), Done: w.Done, Reason: w.Reason, At: w.At}
		if !out.Done {
			return out, fmt.Errorf("%w: %s", ErrStaleRequest, out.Reason)
		}
		return out, nil
	}
}
