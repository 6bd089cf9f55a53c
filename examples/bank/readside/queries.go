package readside

import (
	"context"
	"fmt"
	"time"

	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"
)

// DefaultWait is how long a query waits for its projection to reach a
// consistency token when Queries.Wait is zero.
const DefaultWait = 5 * time.Second

// Queries reads the bank's read models. It holds a read-only Reader and
// never touches the event store.
type Queries struct {
	r readmodel.Reader
	// Wait bounds how long a query waits for a consistency token.
	Wait time.Duration
}

// NewQueries returns the queries over r.
func NewQueries(r readmodel.Reader) *Queries {
	return &Queries{r: readmodel.ReadOnly(r), Wait: DefaultWait}
}

// Page is one page of documents and the cursor of the next, empty on the
// last page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// PageRequest selects a page: at most Limit items (1 to readmodel.MaxLimit,
// zero for readmodel.DefaultLimit), after Cursor, newest first when
// Descending.
type PageRequest struct {
	Limit      int
	Cursor     string
	Descending bool
}

// Account returns account id. It fails with readmodel.ErrNotFound for an
// account that does not exist, projection.ErrNotReady while the read model
// is being built, and projection.ErrStale when token was not reached in time.
func (q *Queries) Account(ctx context.Context, token eventstore.Position, id string) (Account, error) {
	ns, err := q.namespace(ctx, AccountsName, token)
	if err != nil {
		return Account{}, err
	}
	return AccountModel.View(q.r, ns).Get(ctx, id)
}

// AccountsByOwner returns a page of the accounts of owner, ordered by ID.
func (q *Queries) AccountsByOwner(ctx context.Context, token eventstore.Position, owner string, pr PageRequest) (Page[Account], error) {
	ns, err := q.namespace(ctx, AccountsName, token)
	if err != nil {
		return Page[Account]{}, err
	}
	return query(ctx, AccountModel.View(q.r, ns), readmodel.Equal(IndexByOwner, readmodel.String(owner)), pr)
}

// Ledger returns a page of account's statement, oldest first unless
// pr.Descending.
func (q *Queries) Ledger(ctx context.Context, token eventstore.Position, account string, pr PageRequest) (Page[LedgerEntry], error) {
	ns, err := q.namespace(ctx, LedgerName, token)
	if err != nil {
		return Page[LedgerEntry]{}, err
	}
	return query(ctx, LedgerModel.View(q.r, ns), readmodel.Equal(IndexByAccount, readmodel.String(account)), pr)
}

// Transfer returns transfer id.
func (q *Queries) Transfer(ctx context.Context, token eventstore.Position, id string) (Transfer, error) {
	ns, err := q.namespace(ctx, TransfersName, token)
	if err != nil {
		return Transfer{}, err
	}
	return TransferModel.View(q.r, ns).Get(ctx, id)
}

// namespace waits for token, if any, and returns the namespace the
// projection serves readers from.
func (q *Queries) namespace(ctx context.Context, name string, token eventstore.Position) (readmodel.Namespace, error) {
	if !token.IsZero() {
		wait := q.Wait
		if wait <= 0 {
			wait = DefaultWait
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		err := projection.WaitFor(wctx, q.r, name, "", token)
		cancel()
		if err != nil {
			return readmodel.Namespace{}, fmt.Errorf("read model %s at %s: %w", name, token, err)
		}
	}
	return projection.Active(ctx, q.r, name, "")
}

func query[T any](ctx context.Context, v readmodel.View[T], q readmodel.Query, pr PageRequest) (Page[T], error) {
	q.Limit, q.Cursor, q.Descending = pr.Limit, pr.Cursor, pr.Descending
	page, err := v.Query(ctx, q)
	if err != nil {
		return Page[T]{}, err
	}
	out := Page[T]{Items: make([]T, 0, len(page.Items)), Next: page.Next}
	for _, it := range page.Items {
		out.Items = append(out.Items, it.Doc)
	}
	return out, nil
}
