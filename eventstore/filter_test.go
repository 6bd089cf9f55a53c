package eventstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventfold/eventfold/eventstore"
)

func TestFilterMatches(t *testing.T) {
	rec := eventstore.Record{Type: "Paid", StreamID: "order-7"}
	for _, tc := range []struct {
		f    eventstore.Filter
		want bool
	}{
		{eventstore.Filter{}, true},
		{eventstore.Filter{Types: []string{"Placed", "Paid"}}, true},
		{eventstore.Filter{Types: []string{"Placed"}}, false},
		{eventstore.Filter{StreamPrefixes: []string{"user-", "order-"}}, true},
		{eventstore.Filter{StreamPrefixes: []string{"order-7-"}}, false},
		{eventstore.Filter{StreamPrefixes: []string{"order%"}}, false},
		{eventstore.Filter{Types: []string{"Paid"}, StreamPrefixes: []string{"user-"}}, false},
		{eventstore.Filter{Types: []string{"Paid"}, StreamPrefixes: []string{""}}, true},
	} {
		if got := tc.f.Matches(rec); got != tc.want {
			t.Errorf("%+v.Matches(%q in %q) = %v, want %v", tc.f, rec.Type, rec.StreamID, got, tc.want)
		}
	}
}

type plainStore struct{ eventstore.Store }

func TestReadAllFilteredUnsupported(t *testing.T) {
	_, err := eventstore.ReadAllFiltered(context.Background(), plainStore{}, eventstore.Position{}, eventstore.Filter{}, 0)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ReadAllFiltered on a store without filtered reads = %v, want errors.ErrUnsupported", err)
	}
}
