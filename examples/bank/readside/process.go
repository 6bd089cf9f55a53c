package readside

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"

	"github.com/eventfold/eventfold/examples/bank/domain"
)

// Dispatcher sends commands; *command.Dispatcher implements it.
type Dispatcher interface {
	Dispatch(ctx context.Context, cmd any) (command.Result, error)
}

// TransferProcess returns the process manager that carries out transfers:
//
//	TransferRequested                  -> Withdraw from the source
//	  (the withdrawal is refused)      -> FailTransfer
//	MoneyWithdrawn for a transfer      -> Deposit to the destination
//	  (the deposit is refused)         -> Deposit back to the source (refund), FailTransfer
//	MoneyDeposited for a transfer      -> CompleteTransfer
//
// It must run as one partition: it relies on seeing a transfer's events in
// log order. Its commands carry idempotency keys, so an event handled again
// after a crash sends nothing twice. A command that fails for a reason other
// than a domain error (the database is down, say) fails the handler, and the
// runner retries it.
func TransferProcess(reg *command.Registry, d Dispatcher, logger *slog.Logger) *projection.Projection {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pm := &transferProcess{d: d, log: logger}
	p := projection.New(ProcessName, "1", reg)
	projection.Handle(p, pm.requested)
	projection.Handle(p, pm.withdrawn)
	projection.Handle(p, pm.deposited)
	return p
}

type transferProcess struct {
	d   Dispatcher
	log *slog.Logger
}

func transferKey(id, step string) string { return "transfer:" + id + ":" + step }

func (pm *transferProcess) requested(ctx context.Context, _ *projection.Tx, rec eventstore.Record, e domain.TransferRequested) error {
	ctx = command.WithCorrelationID(ctx, rec.Metadata.CorrelationID)
	_, err := pm.d.Dispatch(ctx, domain.Withdraw{
		AccountID: e.From, Amount: e.Amount, TransferID: e.TransferID, Counterparty: e.To,
		Key: transferKey(e.TransferID, "debit"),
	})
	if refused(err) {
		return pm.fail(ctx, e.TransferID, "source account: "+err.Error())
	}
	if err != nil {
		return fmt.Errorf("transfer %s: withdraw: %w", e.TransferID, err)
	}
	return nil
}

func (pm *transferProcess) withdrawn(ctx context.Context, _ *projection.Tx, rec eventstore.Record, e domain.MoneyWithdrawn) error {
	if e.TransferID == "" {
		return nil
	}
	ctx = command.WithCorrelationID(ctx, rec.Metadata.CorrelationID)
	_, err := pm.d.Dispatch(ctx, domain.Deposit{
		AccountID: e.Counterparty, Amount: e.Amount, TransferID: e.TransferID, Counterparty: e.AccountID,
		Key: transferKey(e.TransferID, "credit"),
	})
	if !refused(err) {
		if err != nil {
			return fmt.Errorf("transfer %s: deposit: %w", e.TransferID, err)
		}
		return nil
	}
	reason := "destination account: " + err.Error()
	_, err = pm.d.Dispatch(ctx, domain.Deposit{
		AccountID: e.AccountID, Amount: e.Amount, TransferID: e.TransferID, Counterparty: e.Counterparty,
		Refund: true, Key: transferKey(e.TransferID, "refund"),
	})
	if err != nil {
		return fmt.Errorf("transfer %s: refund: %w", e.TransferID, err)
	}
	return pm.fail(ctx, e.TransferID, reason)
}

func (pm *transferProcess) deposited(ctx context.Context, _ *projection.Tx, rec eventstore.Record, e domain.MoneyDeposited) error {
	if e.TransferID == "" || e.Refund {
		return nil
	}
	ctx = command.WithCorrelationID(ctx, rec.Metadata.CorrelationID)
	_, err := pm.d.Dispatch(ctx, domain.CompleteTransfer{TransferID: e.TransferID})
	if err != nil && !errors.Is(err, domain.ErrTransferFinished) {
		return fmt.Errorf("transfer %s: complete: %w", e.TransferID, err)
	}
	return nil
}

func (pm *transferProcess) fail(ctx context.Context, id, reason string) error {
	pm.log.InfoContext(ctx, "transfer failed", "transfer", id, "reason", reason)
	_, err := pm.d.Dispatch(ctx, domain.FailTransfer{TransferID: id, Reason: reason})
	if err != nil && !errors.Is(err, domain.ErrTransferFinished) {
		return fmt.Errorf("transfer %s: fail: %w", id, err)
	}
	return nil
}

// refused reports a domain error: the command was understood and refused,
// and sending it again would be refused again.
func refused(err error) bool {
	return errors.Is(err, domain.ErrAccountNotFound) ||
		errors.Is(err, domain.ErrInsufficientFunds) ||
		errors.Is(err, command.ErrInvalidCommand)
}
