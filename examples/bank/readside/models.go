package readside

import (
	"fmt"
	"time"

	"github.com/eventfold/eventfold/readmodel"
)

// Projection names. Each is a namespace in Redis.
const (
	AccountsName  = "accounts"
	LedgerName    = "ledger"
	TransfersName = "transfers"
)

// Index names.
const (
	IndexByOwner   = "by-owner"
	IndexByAccount = "by-account"
)

// Account is the document of the accounts read model.
type Account struct {
	ID             string    `json:"id"`
	Owner          string    `json:"owner"`
	Balance        int64     `json:"balance"`
	OverdraftLimit int64     `json:"overdraft_limit"`
	Available      int64     `json:"available"`
	Version        int64     `json:"version"`
	OpenedAt       time.Time `json:"opened_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// AccountModel stores Account documents, indexed by owner.
var AccountModel = readmodel.Model[Account]{
	Indexes: []readmodel.Index[Account]{
		readmodel.By(IndexByOwner, func(a Account) readmodel.Value { return readmodel.String(a.Owner) }),
	},
}

// Ledger entry kinds.
const (
	KindDeposit     = "deposit"
	KindWithdrawal  = "withdrawal"
	KindTransferIn  = "transfer in"
	KindTransferOut = "transfer out"
	KindRefund      = "refund"
)

// LedgerEntry is one line of an account's statement.
type LedgerEntry struct {
	AccountID string `json:"account_id"`
	// Seq is the entry's place in the account's history (its event's
	// stream version).
	Seq          int64     `json:"seq"`
	Kind         string    `json:"kind"`
	Amount       int64     `json:"amount"` // negative for money going out
	Balance      int64     `json:"balance"`
	TransferID   string    `json:"transfer_id,omitempty"`
	Counterparty string    `json:"counterparty,omitempty"`
	At           time.Time `json:"at"`
}

// LedgerModel stores LedgerEntry documents, indexed by account. Entries of
// one account share the index value; their IDs (see LedgerEntryID) order
// them by Seq.
var LedgerModel = readmodel.Model[LedgerEntry]{
	Indexes: []readmodel.Index[LedgerEntry]{
		readmodel.By(IndexByAccount, func(e LedgerEntry) readmodel.Value { return readmodel.String(e.AccountID) }),
	},
}

// LedgerEntryID returns the document ID of entry seq of account: zero-padded
// so that byte order is numeric order.
func LedgerEntryID(account string, seq int64) string {
	return fmt.Sprintf("%s/%012d", account, seq)
}

// Transfer statuses.
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Transfer is the document of the transfers read model.
type Transfer struct {
	ID          string    `json:"id"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Amount      int64     `json:"amount"`
	Status      string    `json:"status"`
	Reason      string    `json:"reason,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Token is the position of the transfer's last event. Once the
	// transfer is finished, reading the accounts or the ledger with it
	// shows every step of the transfer.
	Token string `json:"token"`
}

// TransferModel stores Transfer documents, indexed under both accounts.
var TransferModel = readmodel.Model[Transfer]{
	Indexes: []readmodel.Index[Transfer]{{
		Name: IndexByAccount,
		Values: func(t Transfer) []readmodel.Value {
			return []readmodel.Value{readmodel.String(t.From), readmodel.String(t.To)}
		},
	}},
}
