package domain

import (
	"errors"
	"fmt"

	"github.com/eventfold/eventfold/command"
)

// Domain errors of transfers.
var (
	ErrTransferExists   = errors.New("transfer already exists")
	ErrTransferNotFound = errors.New("transfer not found")
	ErrTransferFinished = errors.New("transfer already finished")
)

// TransferStream returns the stream ID of transfer id.
func TransferStream(id string) string { return "transfer-" + id }

// TransferCommand is implemented by the commands of a transfer.
type TransferCommand interface{ transferCommand() }

// TransferEvent is implemented by the events of a transfer.
type TransferEvent interface{ transferEvent() }

// RequestTransfer asks to move Amount from account From to account To. The
// transfer process manager then withdraws, deposits and completes it, or
// fails it (refunding the source if the money had left it).
type RequestTransfer struct {
	TransferID string
	From, To   string
	Amount     int64
}

// CompleteTransfer records that the money reached the destination.
type CompleteTransfer struct{ TransferID string }

// FailTransfer records that the transfer could not be carried out.
type FailTransfer struct {
	TransferID string
	Reason     string
}

func (RequestTransfer) transferCommand()  {}
func (CompleteTransfer) transferCommand() {}
func (FailTransfer) transferCommand()     {}

// Validate implements command.Validator.
func (c RequestTransfer) Validate() error {
	err := errors.Join(
		validID("transfer id", c.TransferID),
		validID("from", c.From),
		validID("to", c.To),
		validAmount(c.Amount),
	)
	if err == nil && c.From == c.To {
		err = errors.New("from and to must be different accounts")
	}
	return err
}

// TransferRequested records a requested transfer.
type TransferRequested struct {
	TransferID string `json:"transfer_id"`
	From       string `json:"from"`
	To         string `json:"to"`
	Amount     int64  `json:"amount"`
}

// TransferCompleted records a transfer whose money reached the destination.
type TransferCompleted struct {
	TransferID string `json:"transfer_id"`
}

// TransferFailed records a transfer that could not be carried out.
type TransferFailed struct {
	TransferID string `json:"transfer_id"`
	Reason     string `json:"reason"`
}

func (TransferRequested) transferEvent() {}
func (TransferCompleted) transferEvent() {}
func (TransferFailed) transferEvent()    {}

// Transfer is the state of a transfer.
type Transfer struct {
	Requested bool
	Finished  bool
}

// Transfers is the decider of transfers.
var Transfers = command.Decider[Transfer, TransferCommand, TransferEvent]{
	Evolve: func(t Transfer, e TransferEvent) Transfer {
		switch e.(type) {
		case TransferRequested:
			t.Requested = true
		case TransferCompleted, TransferFailed:
			t.Finished = true
		}
		return t
	},
	Decide: decideTransfer,
}

func decideTransfer(c TransferCommand, t Transfer) ([]TransferEvent, error) {
	switch c := c.(type) {
	case RequestTransfer:
		if t.Requested {
			return nil, ErrTransferExists
		}
		return []TransferEvent{TransferRequested{TransferID: c.TransferID, From: c.From, To: c.To, Amount: c.Amount}}, nil
	case CompleteTransfer, FailTransfer:
		if !t.Requested {
			return nil, ErrTransferNotFound
		}
		if t.Finished {
			return nil, ErrTransferFinished
		}
		switch c := c.(type) {
		case FailTransfer:
			return []TransferEvent{TransferFailed{TransferID: c.TransferID, Reason: c.Reason}}, nil
		case CompleteTransfer:
			return []TransferEvent{TransferCompleted{TransferID: c.TransferID}}, nil
		}
	}
	return nil, fmt.Errorf("domain: unknown transfer command %T", c)
}
