package domain

import (
	"errors"

	"github.com/eventfold/eventfold/command"
)

// Stored event type names. They are part of the stored data: projections
// match on them, and renaming one is a migration.
const (
	EventAccountOpened     = "AccountOpened"
	EventMoneyDeposited    = "MoneyDeposited"
	EventMoneyWithdrawn    = "MoneyWithdrawn"
	EventTransferRequested = "TransferRequested"
	EventTransferCompleted = "TransferCompleted"
	EventTransferFailed    = "TransferFailed"
)

// NewRegistry returns a registry of every event of the bank.
func NewRegistry() (*command.Registry, error) {
	reg := command.NewRegistry(nil)
	err := errors.Join(
		command.Register[AccountOpened](reg, EventAccountOpened, nil),
		command.Register[MoneyDeposited](reg, EventMoneyDeposited, nil),
		command.Register[MoneyWithdrawn](reg, EventMoneyWithdrawn, nil),
		command.Register[TransferRequested](reg, EventTransferRequested, nil),
		command.Register[TransferCompleted](reg, EventTransferCompleted, nil),
		command.Register[TransferFailed](reg, EventTransferFailed, nil),
	)
	if err != nil {
		return nil, err
	}
	return reg, nil
}
