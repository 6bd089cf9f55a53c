package banktest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Ledger is the bank's history folded straight from the events table with
// SQL and encoding/json, independently of eventfold and of the bank's own
// code: what the read models and the process manager must agree with.
type Ledger struct {
	Balances map[string]int64
	// External is the money that entered (deposits) and left (withdrawals)
	// the bank other than by transfers.
	External int64
	// Transfers maps a transfer ID to its outcome: "pending", "completed"
	// or "failed".
	Transfers map[string]string
	// Requested maps a transfer ID to its amount.
	Requested map[string]int64
	// Out and In map a transfer ID to the money it took out of its source
	// (withdrawals less refunds) and put into its destination.
	Out, In map[string]int64
}

type loggedEvent struct {
	AccountID  string `json:"account_id"`
	Amount     int64  `json:"amount"`
	TransferID string `json:"transfer_id"`
	Refund     bool   `json:"refund"`
}

// Fold reads every event of schema in log order.
func Fold(t testing.TB, postgresURL, schema string) Ledger {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, "SELECT stream_id, type, data FROM "+pgx.Identifier{schema}.Sanitize()+
		".events ORDER BY transaction_id, global_position")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	l := Ledger{Balances: map[string]int64{}, Transfers: map[string]string{}, Requested: map[string]int64{},
		Out: map[string]int64{}, In: map[string]int64{}}
	for rows.Next() {
		var stream, typ string
		var data []byte
		if err := rows.Scan(&stream, &typ, &data); err != nil {
			t.Fatal(err)
		}
		var e loggedEvent
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("event %s of %s: %v", typ, stream, err)
		}
		l.apply(stream, typ, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *Ledger) apply(stream, typ string, e loggedEvent) {
	id := strings.TrimPrefix(stream, "transfer-")
	switch typ {
	case "MoneyDeposited":
		l.Balances[e.AccountID] += e.Amount
		switch {
		case e.TransferID == "":
			l.External += e.Amount
		case e.Refund:
			l.Out[e.TransferID] -= e.Amount
		default:
			l.In[e.TransferID] += e.Amount
		}
	case "MoneyWithdrawn":
		l.Balances[e.AccountID] -= e.Amount
		if e.TransferID == "" {
			l.External -= e.Amount
		} else {
			l.Out[e.TransferID] += e.Amount
		}
	case "TransferRequested":
		l.Transfers[id] = "pending"
		l.Requested[id] = e.Amount
	case "TransferCompleted":
		l.Transfers[id] = "completed"
	case "TransferFailed":
		l.Transfers[id] = "failed"
	}
}

// Violations lists what breaks the bank's guarantees: money created or
// lost, a failed transfer that moved money, a completed one that did not
// move exactly its amount once, a transfer still pending.
func (l Ledger) Violations() []string {
	var out []string
	var total int64
	for _, b := range l.Balances {
		total += b
	}
	if total != l.External {
		out = append(out, fmt.Sprintf("balances sum to %d, but %d entered from outside", total, l.External))
	}
	ids := make([]string, 0, len(l.Transfers))
	for id := range l.Transfers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		switch st, in, o := l.Transfers[id], l.In[id], l.Out[id]; st {
		case "pending":
			out = append(out, fmt.Sprintf("transfer %s is stuck pending (out %d, in %d)", id, o, in))
		case "failed":
			if in != 0 || o != 0 {
				out = append(out, fmt.Sprintf("transfer %s failed but moved money: out %d, in %d", id, o, in))
			}
		case "completed":
			if want := l.Requested[id]; in != o || in != want {
				out = append(out, fmt.Sprintf("transfer %s completed with out %d, in %d (amount %d)", id, o, in, want))
			}
		}
	}
	return out
}

// Pending lists the transfers not finished yet.
func (l Ledger) Pending() []string {
	var out []string
	for id, st := range l.Transfers {
		if st == "pending" {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// CommandOutcomes reads every recorded command key of schema with its
// outcome: the position its events took, or its refusal.
func CommandOutcomes(t testing.TB, postgresURL, schema string) map[string]string {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, "SELECT command_key, coalesce(global_position::text, ''), coalesce(refusal_code, ''),"+
		" coalesce(refusal_message, ''), coalesce(command_hash, '') FROM "+pgx.Identifier{schema}.Sanitize()+".command_keys")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var key, pos, code, msg, hash string
		if err := rows.Scan(&key, &pos, &code, &msg, &hash); err != nil {
			t.Fatal(err)
		}
		out[key] = fmt.Sprintf("position %s refusal %q %q hash %s", pos, code, msg, hash)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
