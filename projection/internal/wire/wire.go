package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/readmodel"
)

// A version never starts with "$" (projection.Config.Validate), so the
// reserved versions below never name a projection's read model.
const (
	// activeVersion holds a projection's active-version pointer, in a
	// namespace of its own, so switching versions is one atomic write and
	// dropping a version never touches it.
	activeVersion = "$active"
	// PointerID is the pointer document's ID in PointerNamespace.
	PointerID = "pointer"
	// controlVersion holds the control protocol's documents:
	//
	//	fault/<version>/<partition>    the fault, indexed under "faults"
	//	request/<version>/<partition>  the latest request for that partition
	//	outcome/<request ID>           what the Runner did with a request
	controlVersion = "$control"
	// FaultsIndex indexes the published faults in the control namespace.
	FaultsIndex = "faults"
	// CatalogIndex indexes the catalog's entries by projection name.
	CatalogIndex = "name"
	// RetiredEpoch is the namespace checkpoint a newer version sets to stop
	// the writes of the version it replaces.
	RetiredEpoch = "$retired"

	checkpointPrefix = "$checkpoint/"
	caughtUpPrefix   = "$caught-up/"
)

// Catalog is the namespace of the catalog, where every Runner records its
// projection so that operators' tools find it.
var Catalog = readmodel.Namespace{Projection: "$catalog", Version: "$catalog"}

// names lists the reserved names, for the test that keeps them here.
var names = []string{activeVersion, controlVersion, RetiredEpoch, strings.TrimSuffix(checkpointPrefix, "/"),
	strings.TrimSuffix(caughtUpPrefix, "/"), Catalog.Projection}

// PointerNamespace is where projection's active-version pointer lives.
func PointerNamespace(projection, tenant string) readmodel.Namespace {
	return readmodel.Namespace{Projection: projection, Version: activeVersion, Tenant: tenant}
}

// ControlNamespace is where the control protocol of projection runs.
func ControlNamespace(projection, tenant string) readmodel.Namespace {
	return readmodel.Namespace{Projection: projection, Version: controlVersion, Tenant: tenant}
}

// CheckpointID names partition k's checkpoint in its version's namespace.
func CheckpointID(k int) string { return checkpointPrefix + strconv.Itoa(k) }

// CaughtUpID names the mark partition k leaves when it has caught up.
func CaughtUpID(k int) string { return caughtUpPrefix + strconv.Itoa(k) }

// Reserved reports whether id names one of the Runner's own documents of a
// version's namespace, which handlers may not write.
func Reserved(id string) bool {
	return strings.HasPrefix(id, checkpointPrefix) || strings.HasPrefix(id, caughtUpPrefix)
}

// FaultID names the fault partition of version published.
func FaultID(version string, partition int) string {
	return "fault/" + version + "/" + strconv.Itoa(partition)
}

// FaultEntry indexes a fault under FaultsIndex.
func FaultEntry(version string, partition int) readmodel.Entry {
	return readmodel.Entry{Index: FaultsIndex, Value: readmodel.String(version + "/" + strconv.Itoa(partition))}
}

// RequestID names the latest request for partition of version.
func RequestID(version string, partition int) string {
	return "request/" + version + "/" + strconv.Itoa(partition)
}

// OutcomeID names the Runner's answer to request id.
func OutcomeID(id string) string { return "outcome/" + id }

// CatalogID names the catalog entry of one projection and tenant. JSON
// quoting keeps any bytes in either apart.
func CatalogID(name, tenant string) string {
	b, _ := json.Marshal([2]string{name, tenant})
	return string(b)
}

// ControlRevision orders the writes of one process to a control or
// catalog document.
func ControlRevision() readmodel.Revision {
	return readmodel.Revision{Commit: uint64(time.Now().UnixNano())}
}

// Pointer is the active-version pointer.
type Pointer struct {
	Version    string    `json:"version"`
	Partitions int       `json:"partitions"`
	Spread     bool      `json:"spread,omitempty"` // one namespace per partition
	SwitchedAt time.Time `json:"switched_at"`
}

// Checkpoint is stored as a document of the namespace, one per partition,
// and committed with every batch; a caught-up mark has the same shape.
type Checkpoint struct {
	Position eventstore.Position `json:"position"`
	CaughtUp bool                `json:"caught_up,omitempty"`
}

// CatalogEntry is one projection (for one tenant) in the catalog.
type CatalogEntry struct {
	Name       string    `json:"name"`
	Tenant     string    `json:"tenant,omitempty"`
	Version    string    `json:"version"`
	Partitions int       `json:"partitions"`
	AllTenants bool      `json:"all_tenants,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Fault is a fault as the faulted Runner publishes it.
type Fault struct {
	Projection    string              `json:"projection"`
	Version       string              `json:"version"`
	Tenant        string              `json:"tenant,omitempty"`
	Partition     int                 `json:"partition"`
	Partitions    int                 `json:"partitions,omitempty"`
	EventID       string              `json:"event_id"`
	StreamID      string              `json:"stream_id"`
	StreamVersion int64               `json:"stream_version"`
	Type          string              `json:"type"`
	Position      eventstore.Position `json:"position"`
	Err           string              `json:"error"`
	Attempts      int                 `json:"attempts"`
	Since         time.Time           `json:"since"`
}

// Actions of a Request.
const (
	ActionRetry = "retry"
	ActionSkip  = "skip"
)

// Request asks a faulted Runner to retry or skip the event at Position.
type Request struct {
	ID          string              `json:"id"`
	Action      string              `json:"action"`
	Position    eventstore.Position `json:"position"`
	RequestedAt time.Time           `json:"requested_at"`
}

// Outcome is a Runner's answer to a Request.
type Outcome struct {
	RequestID string    `json:"request_id"`
	Action    string    `json:"action"`
	Done      bool      `json:"done"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// ReadPointer reads the active-version pointer of projection; ok is false
// when there is none.
func ReadPointer(ctx context.Context, r readmodel.Reader, projection, tenant string) (p Pointer, ok bool, err error) {
	doc, err := r.Get(ctx, PointerNamespace(projection, tenant), PointerID)
	if errors.Is(err, readmodel.ErrNotFound) {
		return Pointer{}, false, nil
	}
	if err != nil {
		return Pointer{}, false, err
	}
	if err := json.Unmarshal(doc.Data, &p); err != nil {
		return Pointer{}, false, fmt.Errorf("projection: active version of %q: %w", projection, err)
	}
	return p, true, nil
}

// ReadEach reads document id(k) of every partition k of a version whose
// namespace is ns: from ns itself, or for a spread version (one namespace
// per partition) from ns.WithPartition(k, partitions). A missing one is nil.
func ReadEach(ctx context.Context, r readmodel.Reader, ns readmodel.Namespace, partitions int, spread bool, id func(k int) string) ([]*readmodel.Document, error) {
	n := max(partitions, 1)
	out := make([]*readmodel.Document, n)
	if !spread {
		ids := make([]string, n)
		for k := range ids {
			ids[k] = id(k)
		}
		docs, err := r.GetMany(ctx, ns, ids)
		if err != nil {
			return nil, err
		}
		for i := range docs {
			for k := range ids {
				if ids[k] == docs[i].ID {
					out[k] = &docs[i]
				}
			}
		}
		return out, nil
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			d, err := r.Get(ctx, ns.WithPartition(k, n), id(k))
			switch {
			case err == nil:
				out[k] = &d
			case !errors.Is(err, readmodel.ErrNotFound):
				errs[k] = err
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
