package projection_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

type memberJoined struct {
	MemberID string
	Name     string `eventfold:"pii,subject=MemberID"`
	Email    string `eventfold:"pii,subject=MemberID"`
	Club     string
}

type member struct {
	Name, Email, Club string
}

var members = readmodel.Model[member]{Indexes: []readmodel.Index[member]{
	readmodel.By("email", func(m member) readmodel.Value { return readmodel.String(m.Email) }),
	readmodel.By("club", func(m member) readmodel.Value { return readmodel.String(m.Club) }),
}}

// membersProjection keeps a document per member, holding and indexing the
// e-mail, and forgets a member by rewriting the document without it.
func membersProjection(reg *command.Registry) *projection.Projection {
	p := projection.New("members", "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e memberJoined) error {
		return projection.Store(tx, members, e.MemberID, member{Name: e.Name, Email: e.Email, Club: e.Club})
	})
	p.OnForget(func(ctx context.Context, tx *projection.Tx, subject string) error {
		m, ok, err := projection.Load(ctx, tx, members, subject)
		if err != nil || !ok {
			return err
		}
		return projection.Store(tx, members, subject, member{Club: m.Club})
	})
	return p
}

// runForget runs the members projection into rm, joins two members, forgets
// one with command.Forget and waits for the projection to apply it.
func runForget(t *testing.T, rm readmodel.Store) {
	t.Helper()
	ctx := t.Context()
	es, keys := memstore.New(nil), memstore.NewKeys(nil)
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[memberJoined](reg, "MemberJoined", nil); err != nil {
		t.Fatal(err)
	}
	r, err := projection.NewRunner(projection.Config{Projection: membersProjection(reg), Source: projection.LogSource(es, nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, m := range []memberJoined{
		{MemberID: "m-1", Name: "Ada Lovelace", Email: "ada@example.org", Club: "chess"},
		{MemberID: "m-2", Name: "Bob", Email: "bob@example.org", Club: "chess"},
	} {
		ev, err := reg.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := es.Append(ctx, "member-"+m.MemberID, eventstore.NoStream, []eventstore.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	pos, err := command.Forget(ctx, keys, es, "m-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := projection.WaitFor(wctx, rm, "members", "", pos); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := keys.Lookup(ctx, "m-1"); err != nil || ok {
		t.Errorf("Lookup(m-1) after Forget = %v, %v; want no key", ok, err)
	}
}

// checkForgotten reads the members read model through r: m-1 keeps its club
// but loses its name and e-mail, in the document and in the index; m-2 is
// untouched.
func checkForgotten(t *testing.T, r readmodel.Reader) {
	t.Helper()
	view := members.View(r, readmodel.Namespace{Projection: "members", Version: "1"})
	if m, err := view.Get(t.Context(), "m-1"); err != nil || m != (member{Club: "chess"}) {
		t.Errorf("m-1 after Forget = %+v, %v; want the club only", m, err)
	}
	if m, err := view.Get(t.Context(), "m-2"); err != nil || m.Email != "bob@example.org" {
		t.Errorf("m-2 after Forget(m-1) = %+v, %v; want it untouched", m, err)
	}
	page, err := view.Query(t.Context(), readmodel.Equal("email", readmodel.String("ada@example.org")))
	if err != nil || len(page.Items) != 0 {
		t.Errorf("email index for the forgotten address = %+v, %v; want nothing", page.Items, err)
	}
	page, err = view.Query(t.Context(), readmodel.Equal("club", readmodel.String("chess")))
	if err != nil || len(page.Items) != 2 {
		t.Errorf("club index after Forget = %+v, %v; want both members", page.Items, err)
	}
}

func TestOnForget(t *testing.T) {
	rm := memstore.NewReadModels(nil)
	runForget(t, rm)
	checkForgotten(t, rm)
	doc, err := rm.Get(t.Context(), readmodel.Namespace{Projection: "members", Version: "1"}, "m-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"Ada", "ada@example.org"} {
		if bytes.Contains(doc.Data, []byte(secret)) {
			t.Errorf("stored m-1 holds %q: %s", secret, doc.Data)
		}
	}
}

func TestOnForgetRejectsAnEventWithoutSubject(t *testing.T) {
	rm, es := memstore.NewReadModels(nil), memstore.New(nil)
	p := projection.New("members", "1", nil).OnForget(func(context.Context, *projection.Tx, string) error { return nil })
	if _, err := es.Append(t.Context(), command.ForgottenStream, eventstore.Any, []eventstore.Event{
		{Type: command.SubjectForgottenType, Data: []byte(`{"subject":""}`)}}); err != nil {
		t.Fatal(err)
	}
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for r.Status().Fault == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if f := r.Status().Fault; f == nil || !strings.Contains(f.Err, "names no subject") {
		t.Errorf("fault = %+v, want the projection stopped on an event naming no subject", f)
	}
}
