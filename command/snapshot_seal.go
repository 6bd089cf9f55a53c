package command

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/eventfold/eventfold/eventstore"
)

// A Handler whose Registry encodes with a ShreddingCodec seals its snapshots:
// the encoded state is encrypted under a random data key, and the data key
// under the key of every subject the stream's events name. Loading a
// snapshot needs every one of those keys, so forgetting any subject of the
// stream makes its snapshot unreadable and the Handler loads the stream from
// its events, whose personal data is gone. State types need no tags, and no
// Forget path has to know about snapshots.
//
// A sealed snapshot's State is
//
//	sealedSnapshotMagic
//	uvarint count of subjects, then for each, sorted:
//	    uvarint length, subject, uvarint length, wrapped data key
//	the encoded state: sealed under the data key if any subject had a key,
//	    in clear otherwise
//
// A subject without a key when the snapshot is saved (forgotten, and not
// named by a later event with personal data) gets an empty wrapped key: the
// state cannot hold its personal data, which decoded to zero values.

// sealedSnapshotMagic starts a sealed snapshot; a snapshot without it was
// saved in clear, and a shredding Handler does not trust it.
const sealedSnapshotMagic = "\x00eventfold/snapshot/v1\n"

// errSnapshotShredded reports a snapshot that one of its subjects' keys no
// longer opens: the subject was forgotten.
var errSnapshotShredded = errors.New("a subject of the snapshot was forgotten")

// errSnapshotInClear reports a snapshot saved without the sealed header,
// before the Registry's codec shredded; the next save replaces it.
var errSnapshotInClear = errors.New("snapshot saved in clear, not sealed")

type sealedSnapshot struct {
	subjects map[string][]byte // subject to wrapped data key, empty if keyless
	body     []byte
}

func parseSealedSnapshot(data []byte) (sealedSnapshot, error) {
	rest, ok := bytes.CutPrefix(data, []byte(sealedSnapshotMagic))
	if !ok {
		return sealedSnapshot{}, errSnapshotInClear
	}
	bad := errors.New("malformed sealed snapshot")
	next := func() ([]byte, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return nil, false
		}
		b := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return b, true
	}
	count, w := binary.Uvarint(rest)
	if w <= 0 || count > uint64(len(rest)) {
		return sealedSnapshot{}, bad
	}
	rest = rest[w:]
	s := sealedSnapshot{subjects: make(map[string][]byte, count)}
	for range count {
		subject, ok1 := next()
		wrapped, ok2 := next()
		if !ok1 || !ok2 {
			return sealedSnapshot{}, bad
		}
		s.subjects[string(subject)] = wrapped
	}
	s.body = rest
	return s, nil
}

func snapshotKeyAAD(streamID, subject string) []byte {
	return []byte("eventfold/snapshot-key/v1\x00" + streamID + "\x00" + subject)
}

func snapshotBodyAAD(streamID string, version int64) []byte {
	return []byte("eventfold/snapshot/v1\x00" + streamID + "\x00" + strconv.FormatInt(version, 10))
}

// shredder returns the registry's ShreddingCodec, or nil if it does not
// shred.
func (h *Handler[S, C, E]) shredder() *ShreddingCodec {
	c, _ := h.reg.Codec().(*ShreddingCodec)
	return c
}

// sealSnapshot seals the encoded state of streamID as of version under the
// keys of the subjects of events 1 to version.
func (h *Handler[S, C, E]) sealSnapshot(ctx context.Context, codec *ShreddingCodec, streamID string, version int64, state []byte) ([]byte, error) {
	subjects, err := h.streamSubjects(ctx, codec, streamID, version)
	if err != nil {
		return nil, err
	}
	dataKey := make([]byte, KeySize)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, fmt.Errorf("command: snapshot key: %w", err)
	}
	out := []byte(sealedSnapshotMagic)
	out = binary.AppendUvarint(out, uint64(len(subjects)))
	sealed := false
	for _, subject := range subjects {
		key, ok, err := codec.lookupCtx(ctx, subject)
		if err != nil {
			return nil, fmt.Errorf("command: seal snapshot: %w", err)
		}
		var wrapped []byte
		if ok {
			if wrapped, err = seal(key, dataKey, snapshotKeyAAD(streamID, subject)); err != nil {
				return nil, err
			}
			sealed = true
		}
		out = binary.AppendUvarint(out, uint64(len(subject)))
		out = append(out, subject...)
		out = binary.AppendUvarint(out, uint64(len(wrapped)))
		out = append(out, wrapped...)
	}
	if !sealed {
		return append(out, state...), nil
	}
	body, err := seal(dataKey, state, snapshotBodyAAD(streamID, version))
	if err != nil {
		return nil, err
	}
	return append(out, body...), nil
}

// openSnapshot returns the encoded state of a sealed snapshot. It fails with
// errSnapshotShredded if a key it was sealed under is gone or replaced.
func (h *Handler[S, C, E]) openSnapshot(ctx context.Context, codec *ShreddingCodec, snap Snapshot) ([]byte, error) {
	s, err := parseSealedSnapshot(snap.State)
	if err != nil {
		return nil, err
	}
	var dataKey []byte
	for _, subject := range slices.Sorted(maps.Keys(s.subjects)) {
		wrapped := s.subjects[subject]
		if len(wrapped) == 0 {
			continue
		}
		key, ok, err := codec.lookupCtx(ctx, subject)
		if err != nil {
			return nil, err
		}
		var dk []byte
		if ok {
			dk = open(key, wrapped, snapshotKeyAAD(snap.StreamID, subject))
		}
		if dk == nil {
			return nil, errSnapshotShredded
		}
		dataKey = dk
	}
	if dataKey == nil {
		return s.body, nil
	}
	state := open(dataKey, s.body, snapshotBodyAAD(snap.StreamID, snap.Version))
	if state == nil {
		return nil, errors.New("sealed state does not open")
	}
	return state, nil
}

// streamSubjects returns, sorted, the subjects named by marked fields in
// events 1 to version of streamID: those the stored snapshot lists, if it
// is an earlier one of this stream, plus those of the events after it.
func (h *Handler[S, C, E]) streamSubjects(ctx context.Context, codec *ShreddingCodec, streamID string, version int64) ([]string, error) {
	subjects := map[string]bool{}
	from := int64(1)
	if prev, err := h.snaps.Store.Load(ctx, streamID); err == nil && prev.SchemaVersion == h.snaps.SchemaVersion && prev.Version <= version {
		if s, err := parseSealedSnapshot(prev.State); err == nil {
			for subject := range s.subjects {
				subjects[subject] = true
			}
			from = prev.Version + 1
		}
	}
	for from <= version {
		recs, err := h.store.ReadStream(ctx, streamID, from, eventstore.Forward, h.opts.ReadBatch)
		if err != nil {
			return nil, fmt.Errorf("command: read the subjects of stream %q: %w", streamID, err)
		}
		for _, rec := range recs {
			if rec.Version > version {
				break
			}
			// The subject fields are never encrypted: decode without keys.
			v, err := h.reg.decode(rec, codec.inner)
			if err != nil {
				if (h.opts.SkipUnknownEvents || rec.Type == SubjectForgottenType) && errors.Is(err, ErrUnknownEventType) {
					continue
				}
				return nil, err
			}
			if err := codec.subjects(v, subjects); err != nil {
				return nil, err
			}
		}
		if len(recs) < h.opts.ReadBatch {
			break
		}
		from = recs[len(recs)-1].Version + 1
	}
	return slices.Sorted(maps.Keys(subjects)), nil
}

// subjects adds to set the subjects of v's marked fields.
func (c *ShreddingCodec) subjects(v any, set map[string]bool) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil
	}
	plan, err := c.plan(rv.Type())
	if err != nil || plan == nil {
		return err
	}
	for _, f := range plan.fields {
		if s := rv.Field(f.subject).String(); s != "" {
			set[s] = true
		}
	}
	return nil
}

// lookupCtx is lookup under ctx, bounded by the codec's timeout.
func (c *ShreddingCodec) lookupCtx(ctx context.Context, subject string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	key, ok, err := c.keys.Lookup(ctx, subject)
	if err == nil && ok && len(key) != KeySize {
		err = fmt.Errorf("key store returned a %d-byte key, want %d", len(key), KeySize)
	}
	return key, ok, err
}
