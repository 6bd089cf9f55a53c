package process

import (
	"context"
	"errors"
	"log/slog"

	"github.com/eventfold/eventfold/command"

	"github.com/eventfold/eventfold/examples/bank/domain"
)

// TransfersName names the transfer process: its checkpoint, its lease and
// the prefix of its command keys.
const TransfersName = "transfers"

// NewTransfers returns the process manager that carries out transfers:
//
//	TransferRequested                  -> Withdraw from the source
//	  (the withdrawal is refused)      -> FailTransfer
//	MoneyWithdrawn for a transfer      -> Deposit to the destination
//	  (the deposit is refused)         -> Deposit back to the source (refund), FailTransfer
//	MoneyDeposited for a transfer      -> CompleteTransfer
//
// cfg supplies the store, registry, command sender, checkpoints and lease;
// NewTransfers sets the Name. A command that fails for a reason other than
// a refusal (the database is down, say) fails the step, and the process
// tries the event again; a refusal is an outcome the process decides upon.
func NewTransfers(cfg command.ProcessConfig) (*command.Process, error) {
	cfg.Name = TransfersName
	p, err := command.NewProcess(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := transfers{log: log}
	command.OnEvent(p, t.requested)
	command.OnEvent(p, t.withdrawn)
	command.OnEvent(p, t.deposited)
	return p, nil
}

type transfers struct{ log *slog.Logger }

func (t transfers) requested(ctx context.Context, s *command.Step, e domain.TransferRequested) error {
	_, err := s.Send(ctx, domain.Withdraw{AccountID: e.From, Amount: e.Amount, TransferID: e.TransferID, Counterparty: e.To})
	if refused(err) {
		return t.fail(ctx, s, e.TransferID, "source account: "+err.Error())
	}
	return err
}

func (t transfers) withdrawn(ctx context.Context, s *command.Step, e domain.MoneyWithdrawn) error {
	if e.TransferID == "" {
		return nil
	}
	_, err := s.Send(ctx, domain.Deposit{AccountID: e.Counterparty, Amount: e.Amount, TransferID: e.TransferID, Counterparty: e.AccountID})
	if !refused(err) {
		return err
	}
	reason := "destination account: " + err.Error()
	_, err = s.Send(ctx, domain.Deposit{AccountID: e.AccountID, Amount: e.Amount, TransferID: e.TransferID, Counterparty: e.Counterparty, Refund: true})
	if err != nil {
		return err
	}
	return t.fail(ctx, s, e.TransferID, reason)
}

func (t transfers) deposited(ctx context.Context, s *command.Step, e domain.MoneyDeposited) error {
	if e.TransferID == "" || e.Refund {
		return nil
	}
	_, err := s.Send(ctx, domain.CompleteTransfer{TransferID: e.TransferID})
	if errors.Is(err, command.ErrRejected) {
		t.log.WarnContext(ctx, "transfer not completed", "transfer", e.TransferID, "reason", err.Error())
		return nil
	}
	return err
}

func (t transfers) fail(ctx context.Context, s *command.Step, id, reason string) error {
	t.log.InfoContext(ctx, "transfer failed", "transfer", id, "reason", reason)
	_, err := s.Send(ctx, domain.FailTransfer{TransferID: id, Reason: reason})
	if errors.Is(err, command.ErrRejected) {
		return nil // already finished
	}
	return err
}

// refused reports a command the accounts understood and refused (a domain
// rule, or a command that does not validate): sending it again would be
// refused again, so it is an outcome, not a failure.
func refused(err error) bool {
	return errors.Is(err, command.ErrRejected) || errors.Is(err, command.ErrInvalidCommand)
}
