package watermillbus_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/watermillbus"
	"github.com/eventfold/eventfold/eventstore"
)

func TestMessageRoundTrip(t *testing.T) {
	rec := eventstore.Record{
		ID: eventstore.NewEventID(), StreamID: "order:{1} *x", Type: "OrderPlaced", Data: []byte(`{"total":3}`),
		ContentType: eventstore.ContentTypeJSON, Version: 7,
		Position:   eventstore.Position{Commit: 900, Sequence: 12},
		RecordedAt: time.Date(2026, 11, 25, 1, 2, 3, 456789000, time.UTC),
		Metadata: eventstore.Metadata{CorrelationID: "corr", CausationID: "cause", Extra: map[string]string{
			"user": "ada", "correlation_id": "extra corr", "eventfold_type": "extra type", "eventfold_x_k": "v"}},
	}
	prev := eventstore.Position{Commit: 899, Sequence: 40}
	msg := watermillbus.NewMessage(rec, prev)
	if msg.UUID != rec.ID || msg.Metadata.Get("correlation_id") != "corr" {
		t.Errorf("message UUID %q, correlation %q", msg.UUID, msg.Metadata.Get("correlation_id"))
	}
	// Free-form entries keep their keys unless eventfold reserves them.
	if msg.Metadata.Get("user") != "ada" || msg.Metadata.Get("eventfold_x_correlation_id") != "extra corr" {
		t.Errorf("message metadata %v", msg.Metadata)
	}
	got, gotPrev, err := watermillbus.Record(msg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("record after a round trip (-want +got):\n%s", diff)
	}
	if gotPrev != prev {
		t.Errorf("previous position %v, want %v", gotPrev, prev)
	}
	bad := watermillbus.NewMessage(rec, prev)
	bad.Metadata.Set(watermillbus.MetadataPosition, "12")
	if _, _, err := watermillbus.Record(bad); err == nil {
		t.Error("Record accepted a malformed position")
	}
}

func TestMessageTenant(t *testing.T) {
	rec := eventstore.Record{
		ID: eventstore.NewEventID(), Tenant: "acme", StreamID: "order-1", Type: "OrderPlaced", Data: []byte(`{}`),
		ContentType: eventstore.ContentTypeJSON, Version: 1, Position: eventstore.Position{Commit: 9, Sequence: 1},
		RecordedAt: time.Date(2026, 11, 25, 1, 2, 3, 0, time.UTC),
	}
	msg := watermillbus.NewMessage(rec, eventstore.Position{})
	if got := msg.Metadata.Get(watermillbus.MetadataTenant); got != "acme" {
		t.Errorf("metadata %s = %q, want acme", watermillbus.MetadataTenant, got)
	}
	got, _, err := watermillbus.Record(msg)
	if err != nil || got.Tenant != "acme" {
		t.Errorf("Record = tenant %q, %v; want acme", got.Tenant, err)
	}

	rec.Tenant = ""
	msg = watermillbus.NewMessage(rec, eventstore.Position{})
	if _, ok := msg.Metadata[watermillbus.MetadataTenant]; ok {
		t.Errorf("a default-tenant message carries %s", watermillbus.MetadataTenant)
	}
	if got, _, err := watermillbus.Record(msg); err != nil || got.Tenant != "" {
		t.Errorf("Record of a default-tenant message = tenant %q, %v", got.Tenant, err)
	}

	for _, bad := range []string{"bad\x00tenant", "bad-\xff", string(make([]byte, eventstore.MaxTenantBytes+1))} {
		msg.Metadata.Set(watermillbus.MetadataTenant, bad)
		if _, _, err := watermillbus.Record(msg); err == nil {
			t.Errorf("Record accepted tenant %q", bad)
		}
	}
}
