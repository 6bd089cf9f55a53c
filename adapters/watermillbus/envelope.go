package watermillbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/eventfold/eventfold/eventstore"
)

// MetadataBatch marks a batch envelope (see NewBatchMessage) and holds the
// number of events it carries.
const MetadataBatch = "eventfold_batch"

// envelopeFormat is the first byte of an envelope's payload; a reader
// refuses formats it does not know rather than misread them.
const envelopeFormat = 1

// NewBatchMessage returns one message carrying recs, consecutive events
// of the log, in order; prev is the position of the event before recs[0]
// (the zero Position when unknown). Its UUID is recs[0].ID and the count
// joined by "+": a relay that retries after a crash and packs the same
// events again sends the same UUID, so broker-side deduplication by UUID
// (JetStream's TrackMsgId) still works, while an envelope packed
// differently gets a different UUID and reaches the consumer, which drops
// the events it has already. Its payload is a binary encoding of the
// records; its metadata carries MetadataBatch (the count), the previous
// position and the position of the last event. Records decodes it.
func NewBatchMessage(recs []eventstore.Record, prev eventstore.Position) *message.Message {
	size := 16
	for i := range recs {
		size += recordSize(&recs[i])
	}
	b := make([]byte, 0, size)
	b = append(b, envelopeFormat)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for i := range recs {
		b = appendRecord(b, &recs[i])
	}
	id := ""
	if len(recs) > 0 {
		id = recs[0].ID
	}
	msg := message.NewMessage(id+"+"+strconv.Itoa(len(recs)), b)
	msg.Metadata.Set(MetadataBatch, strconv.Itoa(len(recs)))
	msg.Metadata.Set(MetadataPrevPosition, prev.String())
	if len(recs) > 0 {
		msg.Metadata.Set(MetadataPosition, recs[len(recs)-1].Position.String())
	}
	return msg
}

// Records decodes a message made by NewMessage (one record) or by
// NewBatchMessage (its records, in order). It returns the records and the
// position of the event before the first of them.
func Records(msg *message.Message) ([]eventstore.Record, eventstore.Position, error) {
	n := msg.Metadata.Get(MetadataBatch)
	if n == "" {
		rec, prev, err := Record(msg)
		if err != nil {
			return nil, eventstore.Position{}, err
		}
		return []eventstore.Record{rec}, prev, nil
	}
	fail := func(format string, args ...any) ([]eventstore.Record, eventstore.Position, error) {
		return nil, eventstore.Position{}, fmt.Errorf("watermillbus: message %s: batch envelope: %s", msg.UUID, fmt.Sprintf(format, args...))
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return fail("metadata %s %q is not a count", MetadataBatch, n)
	}
	prev, err := eventstore.ParsePosition(msg.Metadata.Get(MetadataPrevPosition))
	if err != nil {
		return fail("metadata %s is not a position", MetadataPrevPosition)
	}
	d := decoder{b: msg.Payload}
	if format := d.byte(); format != envelopeFormat {
		return fail("unknown format %d (a newer relay?)", format)
	}
	if got := d.uvarint(); d.err == nil && got != uint64(count) {
		return fail("holds %d events, metadata %s says %d", got, MetadataBatch, count)
	}
	// Each record takes at least a dozen bytes: a corrupt count cannot
	// make us allocate more than the payload justifies.
	recs := make([]eventstore.Record, 0, min(count, len(msg.Payload)/12+1))
	for i := 0; i < count && d.err == nil; i++ {
		rec := d.record()
		if d.err != nil {
			return fail("event %d: %v", i, d.err)
		}
		if err := validateRecord(rec); err != nil {
			return fail("event %d (%s): %v", i, rec.ID, err)
		}
		after := prev
		if i > 0 {
			after = recs[i-1].Position
		}
		if !after.Before(rec.Position) {
			return fail("event %d at %s does not follow %s", i, rec.Position, after)
		}
		recs = append(recs, rec)
	}
	if d.err != nil {
		return fail("%v", d.err)
	}
	if len(d.b) != 0 {
		return fail("%d bytes after the last event", len(d.b))
	}
	return recs, prev, nil
}

func validateRecord(rec eventstore.Record) error {
	switch {
	case rec.Tenant != "" && eventstore.ValidateTenant(rec.Tenant) != nil:
		return errors.New("not a valid tenant ID")
	case rec.StreamID == "":
		return errors.New("no stream ID")
	case rec.Type == "":
		return errors.New("no type")
	case rec.Version < 1:
		return errors.New("not a version")
	}
	return nil
}

func recordSize(r *eventstore.Record) int {
	n := 80 + len(r.ID) + len(r.Tenant) + len(r.StreamID) + len(r.Type) + len(r.ContentType) + len(r.Data) +
		len(r.Metadata.CorrelationID) + len(r.Metadata.CausationID)
	for k, v := range r.Metadata.Extra {
		n += len(k) + len(v) + 4
	}
	return n
}

// appendRecord encodes r: length-prefixed strings, varints for numbers,
// the metadata entries sorted by key so that equal records encode alike.
func appendRecord(b []byte, r *eventstore.Record) []byte {
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	str(r.ID)
	str(r.Tenant)
	str(r.StreamID)
	b = binary.AppendVarint(b, r.Version)
	b = binary.AppendUvarint(b, r.Position.Commit)
	b = binary.AppendUvarint(b, r.Position.Sequence)
	str(r.Type)
	str(r.ContentType)
	b = binary.AppendUvarint(b, uint64(len(r.Data)))
	b = append(b, r.Data...)
	b = binary.AppendVarint(b, r.RecordedAt.Unix())
	b = binary.AppendUvarint(b, uint64(r.RecordedAt.Nanosecond()))
	str(r.Metadata.CorrelationID)
	str(r.Metadata.CausationID)
	b = binary.AppendUvarint(b, uint64(len(r.Metadata.Extra)))
	keys := make([]string, 0, len(r.Metadata.Extra))
	for k := range r.Metadata.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		str(k)
		str(r.Metadata.Extra[k])
	}
	return b
}

// decoder reads what appendRecord wrote; after the first error every read
// returns zero values and err stays set.
type decoder struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated")

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errTruncated
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errTruncated
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) record() eventstore.Record {
	var r eventstore.Record
	r.ID = d.string()
	r.Tenant = d.string()
	r.StreamID = d.string()
	r.Version = d.varint()
	r.Position.Commit = d.uvarint()
	r.Position.Sequence = d.uvarint()
	r.Type = d.string()
	r.ContentType = d.string()
	r.Data = d.bytes()
	sec, nsec := d.varint(), d.uvarint()
	if d.err == nil && nsec >= uint64(time.Second) {
		d.err = errors.New("recorded time: nanoseconds out of range")
	}
	r.RecordedAt = time.Unix(sec, int64(nsec)).UTC()
	r.Metadata.CorrelationID = d.string()
	r.Metadata.CausationID = d.string()
	extra := d.uvarint()
	if d.err == nil && extra > uint64(len(d.b)/2) {
		d.err = errTruncated // each entry takes two bytes at least
	}
	for i := uint64(0); i < extra && d.err == nil; i++ {
		if r.Metadata.Extra == nil {
			r.Metadata.Extra = make(map[string]string, extra)
		}
		k := d.string()
		r.Metadata.Extra[k] = d.string()
	}
	return r
}
