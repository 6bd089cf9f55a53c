package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eventfold/eventfold/adapters/memstore"
	"github.com/eventfold/eventfold/adapters/redisstore"
	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/internal/testenv"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
	"github.com/redis/go-redis/v9"
)

type memberJoined struct {
	MemberID string
	Name     string `eventfold:"pii,subject=MemberID"`
	Email    string `eventfold:"pii,subject=MemberID"`
	Club     string
}

type member struct{ Name, Email, Club string }

var members = readmodel.Model[member]{Indexes: []readmodel.Index[member]{
	readmodel.By("email", func(m member) readmodel.Value { return readmodel.String(m.Email) }),
}}

// TestForgetReachesRedis: a projection writes a member's name and e-mail
// (in the document and in an index) into Redis; after command.Forget and
// the projection's forget hook, no Redis key or value under the store's
// prefix holds them.
func TestForgetReachesRedis(t *testing.T) {
	ctx := t.Context()
	client, prefix := testenv.Redis(t)
	rm, err := redisstore.New(client, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	es, keys := memstore.New(nil), memstore.NewKeys(nil)
	codec, err := command.NewShreddingCodec(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
	if err := command.Register[memberJoined](reg, "MemberJoined", nil); err != nil {
		t.Fatal(err)
	}
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
	r, err := projection.NewRunner(projection.Config{Projection: p, Source: projection.LogSource(es, nil), Store: rm})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wait := func(pos eventstore.Position) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := projection.WaitFor(wctx, rm, "members", "", pos); err != nil {
			t.Fatal(err)
		}
	}

	ev, err := reg.Encode(memberJoined{MemberID: "m-1", Name: "Ada Lovelace", Email: "ada@example.org", Club: "chess"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := es.Append(ctx, "member-m-1", eventstore.NoStream, []eventstore.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	wait(res.Position)
	if dump := dumpRedis(t, client, prefix); !bytes.Contains(dump, []byte("ada@example.org")) {
		t.Fatalf("Redis before Forget lacks the e-mail; the test reads the wrong keys:\n%s", dump)
	}

	pos, err := command.Forget(ctx, keys, es, "m-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	wait(pos)
	dump := dumpRedis(t, client, prefix)
	for _, secret := range []string{"Ada", "ada@example.org", "ada%40example.org"} {
		if bytes.Contains(dump, []byte(secret)) {
			t.Errorf("Redis holds %q after Forget:\n%s", secret, dump)
		}
	}
	if !bytes.Contains(dump, []byte("chess")) {
		t.Errorf("Redis lost the club, which is not personal data:\n%s", dump)
	}
}

// dumpRedis returns every key under prefix with its value, whatever its
// type, as text.
func dumpRedis(t *testing.T, c *redis.Client, prefix string) []byte {
	t.Helper()
	ctx := t.Context()
	var out bytes.Buffer
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		fmt.Fprintf(&out, "%s:", key)
		switch typ := c.Type(ctx, key).Val(); typ {
		case "string":
			fmt.Fprintf(&out, " %q", c.Get(ctx, key).Val())
		case "hash":
			for f, v := range c.HGetAll(ctx, key).Val() {
				fmt.Fprintf(&out, " %s=%q", f, v)
			}
		case "zset":
			for _, m := range c.ZRange(ctx, key, 0, -1).Val() {
				fmt.Fprintf(&out, " %q", m)
			}
		default:
			t.Fatalf("key %s has type %s, which the test does not read", key, typ)
		}
		out.WriteByte('\n')
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
