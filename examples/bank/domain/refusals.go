package domain

// Refusals names the domain errors by stable codes, for
// command.Options.Refusals: a refusal replayed under an idempotency key
// then still matches its error, so errors.Is(err, ErrInsufficientFunds)
// holds for the transfer process's retried Withdraw as for the first one.
// The codes are stored with refused keys; never change one.
func Refusals() map[string]error {
	return map[string]error{
		"account_not_found":  ErrAccountNotFound,
		"account_exists":     ErrAccountExists,
		"insufficient_funds": ErrInsufficientFunds,
		"transfer_exists":    ErrTransferExists,
		"transfer_not_found": ErrTransferNotFound,
		"transfer_finished":  ErrTransferFinished,
	}
}
