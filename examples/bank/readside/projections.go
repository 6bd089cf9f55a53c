package readside

import (
	"context"
	"fmt"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"

	"github.com/eventfold/eventfold/examples/bank/domain"
)

// Projections returns the bank's read-model projections: accounts, ledger
// and transfers, decoding events through reg, the registry the command side
// writes them with (domain.NewRegistry). The process manager is separate
// (TransferProcess) because it needs a way to send commands.
func Projections(reg *command.Registry) []*projection.Projection {
	return []*projection.Projection{Accounts(reg), Ledger(reg), Transfers(reg)}
}

// Accounts returns the projection of account details.
func Accounts(reg *command.Registry) *projection.Projection {
	p := projection.New(AccountsName, "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e domain.AccountOpened) error {
		return projection.Store(tx, AccountModel, e.AccountID, Account{
			ID: e.AccountID, Owner: e.Owner, OverdraftLimit: e.OverdraftLimit, Available: e.OverdraftLimit,
			Version: rec.Version, OpenedAt: rec.RecordedAt, UpdatedAt: rec.RecordedAt,
		})
	})
	balance := func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, id string, bal int64) error {
		a, ok, err := projection.Load(ctx, tx, AccountModel, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("readside: account %q has no document", id)
		}
		a.Balance, a.Available = bal, bal+a.OverdraftLimit
		a.Version, a.UpdatedAt = rec.Version, rec.RecordedAt
		return projection.Store(tx, AccountModel, id, a)
	}
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e domain.MoneyDeposited) error {
		return balance(ctx, tx, rec, e.AccountID, e.Balance)
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e domain.MoneyWithdrawn) error {
		return balance(ctx, tx, rec, e.AccountID, e.Balance)
	})
	// An operator closes an account by deleting its stream (eventfold
	// streams delete account-ID): its document goes.
	p.OnStreamDeleted(func(ctx context.Context, tx *projection.Tx, e eventstore.LifecycleEvent) error {
		if id, ok := domain.AccountIDOf(e.StreamID); ok {
			tx.Delete(id)
		}
		return nil
	})
	return p
}

// Ledger returns the projection of account statements.
func Ledger(reg *command.Registry) *projection.Projection {
	p := projection.New(LedgerName, "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e domain.MoneyDeposited) error {
		kind := KindDeposit
		switch {
		case e.Refund:
			kind = KindRefund
		case e.TransferID != "":
			kind = KindTransferIn
		}
		return projection.Store(tx, LedgerModel, LedgerEntryID(e.AccountID, rec.Version), LedgerEntry{
			AccountID: e.AccountID, Seq: rec.Version, Kind: kind, Amount: e.Amount, Balance: e.Balance,
			TransferID: e.TransferID, Counterparty: e.Counterparty, At: rec.RecordedAt,
		})
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e domain.MoneyWithdrawn) error {
		kind := KindWithdrawal
		if e.TransferID != "" {
			kind = KindTransferOut
		}
		return projection.Store(tx, LedgerModel, LedgerEntryID(e.AccountID, rec.Version), LedgerEntry{
			AccountID: e.AccountID, Seq: rec.Version, Kind: kind, Amount: -e.Amount, Balance: e.Balance,
			TransferID: e.TransferID, Counterparty: e.Counterparty, At: rec.RecordedAt,
		})
	})
	// A deleted account's statement goes with it: one entry per version
	// up to the last.
	p.OnStreamDeleted(func(ctx context.Context, tx *projection.Tx, e eventstore.LifecycleEvent) error {
		if id, ok := domain.AccountIDOf(e.StreamID); ok {
			for v := int64(1); v <= e.Version; v++ {
				tx.Delete(LedgerEntryID(id, v))
			}
		}
		return nil
	})
	return p
}

// Transfers returns the projection of transfers and their status.
func Transfers(reg *command.Registry) *projection.Projection {
	p := projection.New(TransfersName, "1", reg)
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e domain.TransferRequested) error {
		return projection.Store(tx, TransferModel, e.TransferID, Transfer{
			ID: e.TransferID, From: e.From, To: e.To, Amount: e.Amount, Status: StatusPending,
			RequestedAt: rec.RecordedAt, UpdatedAt: rec.RecordedAt, Token: rec.Position.String(),
		})
	})
	finish := func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, id, status, reason string) error {
		t, ok, err := projection.Load(ctx, tx, TransferModel, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("readside: transfer %q has no document", id)
		}
		t.Status, t.Reason, t.UpdatedAt, t.Token = status, reason, rec.RecordedAt, rec.Position.String()
		return projection.Store(tx, TransferModel, id, t)
	}
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e domain.TransferCompleted) error {
		return finish(ctx, tx, rec, e.TransferID, StatusCompleted, "")
	})
	projection.Handle(p, func(ctx context.Context, tx *projection.Tx, rec eventstore.Record, e domain.TransferFailed) error {
		return finish(ctx, tx, rec, e.TransferID, StatusFailed, e.Reason)
	})
	return p
}
