package pgstore_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eventfold/eventfold/adapters/pgstore"
	"github.com/eventfold/eventfold/eventstore"
)

func TestListStreamsPages(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, nil)
	if got, err := s.ListStreams(ctx, "", 10); err != nil || len(got) != 0 {
		t.Fatalf("ListStreams of an empty store = %v, %v; want nothing", got, err)
	}
	var want []pgstore.StreamInfo
	for i := range 5 {
		id := fmt.Sprintf("acc-%d", i)
		events := make([]eventstore.Event, i+1)
		for j := range events {
			events[j] = eventstore.Event{Type: "T", Data: []byte(`{}`)}
		}
		if _, err := s.Append(ctx, id, eventstore.NoStream, events); err != nil {
			t.Fatal(err)
		}
		want = append(want, pgstore.StreamInfo{ID: id, Version: int64(i + 1)})
	}
	var got []pgstore.StreamInfo
	after := ""
	for {
		page, err := s.ListStreams(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("ListStreams(limit 2) returned %d streams", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("streams read page by page (-want +got):\n%s", diff)
	}
	if _, err := s.ListStreams(ctx, "", 0); err == nil {
		t.Error("ListStreams with limit 0 succeeded")
	}
}
