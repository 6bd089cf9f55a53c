package watermillbus_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
)

// Whatever an event holds, NewMessage and Record give it back unchanged.
func FuzzMessageRoundTrip(f *testing.F) {
	f.Add("account-1", "Opened", "", []byte(`{"a":1}`), int64(1), uint64(5), uint64(9), uint64(4), "corr", "cause", "k", "v", int64(1700000000123456789), "")
	f.Add("'; DROP TABLE x;--", "名前\u202e", "text/plain", []byte("\xff\x00"), int64(1<<62), uint64(1<<63), uint64(0), uint64(0), "\n", "", "eventfold_x_k", "\xff", int64(0), "acme")
	f.Add("{tag}*?[", "T", "application/json", []byte{}, int64(2), uint64(0), uint64(1), uint64(1), "", "", "", "", int64(-1), "'; DROP TABLE x;-- 🙂")
	f.Fuzz(func(t *testing.T, stream, typ, contentType string, data []byte, version int64, commit, seq, prevSeq uint64, corr, cause, key, value string, at int64, tenant string) {
		if stream == "" || typ == "" || version < 1 {
			return // not an event a store returns
		}
		if tenant != "" && eventstore.ValidateTenant(tenant) != nil {
			return // not a tenant a store holds
		}
		rec := eventstore.Record{
			ID: eventstore.NewEventID(), Tenant: tenant, StreamID: stream, Type: typ, Data: data, ContentType: contentType,
			Metadata: eventstore.Metadata{CorrelationID: corr, CausationID: cause},
			Version:  version, Position: eventstore.Position{Commit: commit, Sequence: seq},
			RecordedAt: time.Unix(0, at).UTC(),
		}
		if key != "" {
			rec.Metadata.Extra = map[string]string{key: value}
		}
		prev := eventstore.Position{Commit: commit / 2, Sequence: prevSeq}
		got, gotPrev, err := watermillbus.Record(watermillbus.NewMessage(rec, prev))
		if err != nil {
			t.Fatalf("Record(NewMessage(%+v)): %v", rec, err)
		}
		if len(rec.Data) == 0 && len(got.Data) == 0 {
			got.Data = rec.Data
		}
		if diff := cmp.Diff(rec, got); diff != "" || gotPrev != prev {
			t.Fatalf("round trip changed the record (-sent +received):\n%s\nprev %v, got %v", diff, prev, gotPrev)
		}
	})
}

// Messages from a broker may carry any metadata: Record never panics, and
// rejects what it cannot read with an error naming the message.
func FuzzRecordArbitrary(f *testing.F) {
	f.Add("s", "1", "1-2", "", "T", "2024-01-01T00:00:00Z", "x", "")
	f.Add("", "0", "1", "1-", "", "yesterday", "", "acme")
	f.Add("s", "-5", "18446744073709551616-0", "abc", "T", "", "", "bad\x00tenant")
	f.Fuzz(func(t *testing.T, stream, version, pos, prev, typ, at, extra, tenant string) {
		msg := message.NewMessage("id", []byte("payload"))
		for k, v := range map[string]string{watermillbus.MetadataStreamID: stream, watermillbus.MetadataVersion: version,
			watermillbus.MetadataPosition: pos, watermillbus.MetadataPrevPosition: prev, watermillbus.MetadataType: typ,
			watermillbus.MetadataRecordedAt: at, watermillbus.MetadataExtraPrefix + extra: extra, watermillbus.MetadataTenant: tenant} {
			msg.Metadata.Set(k, v)
		}
		rec, _, err := watermillbus.Record(msg)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "watermillbus: message id: ") {
				t.Fatalf("Record error %q does not name the message", err)
			}
			return
		}
		if rec.StreamID != stream || rec.Type != typ || rec.Version < 1 || rec.Metadata.Extra[extra] != extra {
			t.Fatalf("Record accepted %+v from stream %q, type %q, version %q", rec, stream, typ, version)
		}
		if rec.Tenant != tenant || (tenant != "" && eventstore.ValidateTenant(tenant) != nil) {
			t.Fatalf("Record accepted tenant %q from metadata %q", rec.Tenant, tenant)
		}
	})
}

// Whatever events an envelope carries, NewBatchMessage and Records give
// them back unchanged and in order.
func FuzzBatchRoundTrip(f *testing.F) {
	f.Add("account-1", "Opened", "", []byte(`{"a":1}`), int64(1), uint64(5), uint64(9), uint8(3), "corr", "k", "v", int64(1700000000123456789), "")
	f.Add("'; DROP TABLE x;--", "名前\u202e", "text/plain", []byte("\xff\x00"), int64(1<<62), uint64(1<<63), uint64(0), uint8(1), "\n", "traceparent", "\xff", int64(0), "acme")
	f.Add("{tag}*?[", "T", "application/json", []byte{}, int64(2), uint64(0), uint64(1), uint8(200), "", "", "", int64(-1), "'; DROP TABLE x;-- 🙂")
	f.Fuzz(func(t *testing.T, stream, typ, contentType string, data []byte, version int64, commit, seq uint64, n uint8, corr, key, value string, at int64, tenant string) {
		if stream == "" || typ == "" || version < 1 {
			return // not events a store returns
		}
		n = n%16 + 1 // enough to chain; more only slows the fuzzer
		if tenant != "" && eventstore.ValidateTenant(tenant) != nil {
			return
		}
		if seq > ^uint64(0)-uint64(n) {
			seq /= 2 // room for n positions after it
		}
		recs := make([]eventstore.Record, n)
		for i := range recs {
			recs[i] = eventstore.Record{
				ID: eventstore.NewEventID(), Tenant: tenant, StreamID: stream, Type: typ, ContentType: contentType,
				Data: data[:len(data)*i/int(n)], Metadata: eventstore.Metadata{CorrelationID: corr, CausationID: stream},
				Version: version, Position: eventstore.Position{Commit: commit, Sequence: seq + uint64(i) + 1},
				RecordedAt: time.Unix(0, at+int64(i)).UTC(),
			}
			if len(recs[i].Data) == 0 {
				recs[i].Data = nil // an empty payload comes back as nil
			}
			if key != "" && i%2 == 0 {
				recs[i].Metadata.Extra = map[string]string{key: value, "n": strconv.Itoa(i)}
			}
		}
		prev := eventstore.Position{Commit: commit, Sequence: seq}
		got, gotPrev, err := watermillbus.Records(watermillbus.NewBatchMessage(recs, prev))
		if err != nil {
			t.Fatalf("Records(NewBatchMessage(%d events)): %v", n, err)
		}
		if diff := cmp.Diff(recs, got); diff != "" || gotPrev != prev {
			t.Fatalf("round trip changed the events (-sent +received):\n%s\nprev %v, got %v", diff, prev, gotPrev)
		}
	})
}

// An envelope from a broker may hold any bytes: Records never panics,
// rejects what it cannot read with an error naming the message, and what
// it accepts goes forward in the log.
func FuzzRecordsArbitrary(f *testing.F) {
	valid := watermillbus.NewBatchMessage([]eventstore.Record{
		{ID: "a", StreamID: "s", Type: "T", Version: 1, Position: eventstore.Position{Commit: 1, Sequence: 1}},
		{ID: "b", Tenant: "acme", StreamID: "s", Type: "T", Version: 2, Position: eventstore.Position{Commit: 1, Sequence: 2},
			Metadata: eventstore.Metadata{Extra: map[string]string{"traceparent": "00-x"}}},
	}, eventstore.Position{})
	f.Add([]byte(valid.Payload), "2", "0-0")
	f.Add([]byte(valid.Payload), "1", "0-0")
	f.Add([]byte(valid.Payload[:10]), "2", "0-0")
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}, "1000000000", "1-1")
	f.Add([]byte{}, "0", "")
	f.Fuzz(func(t *testing.T, payload []byte, count, prev string) {
		msg := message.NewMessage("id", payload)
		msg.Metadata.Set(watermillbus.MetadataBatch, count)
		msg.Metadata.Set(watermillbus.MetadataPrevPosition, prev)
		recs, after, err := watermillbus.Records(msg)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "watermillbus: message id: ") {
				t.Fatalf("Records error %q does not name the message", err)
			}
			return
		}
		if strconv.Itoa(len(recs)) != count {
			t.Fatalf("Records returned %d events for count %q", len(recs), count)
		}
		for _, r := range recs {
			if !after.Before(r.Position) || r.StreamID == "" || r.Type == "" || r.Version < 1 {
				t.Fatalf("Records accepted %+v after %s", r, after)
			}
			if r.Tenant != "" && eventstore.ValidateTenant(r.Tenant) != nil {
				t.Fatalf("Records accepted tenant %q", r.Tenant)
			}
			after = r.Position
		}
	})
}
