package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/projection"
	"github.com/eventfold/eventfold/readmodel"

	"github.com/eventfold/eventfold/examples/bank/domain"
)

// errBadRequest marks input the API rejects before dispatching anything.
var errBadRequest = errors.New("bad request")

// errNotFound marks a query for an account or transfer that does not exist.
var errNotFound = errors.New("not found")

type badRequestError string

func (e badRequestError) Error() string        { return string(e) }
func (e badRequestError) Is(target error) bool { return target == errBadRequest }

func badRequest(msg string) error { return badRequestError(msg) }

// notFound names the missing document of a readmodel.ErrNotFound, which
// only says that some document is missing. Other errors pass unchanged.
func notFound(err error, kind, id string) error {
	if errors.Is(err, readmodel.ErrNotFound) {
		return fmt.Errorf("%s %q: %w", kind, id, errNotFound)
	}
	return err
}

// classify maps an error to its status code and a short code for clients.
func classify(err error) (int, string) {
	switch {
	case errors.Is(err, errBadRequest),
		errors.Is(err, command.ErrInvalidCommand),
		errors.Is(err, eventstore.ErrInvalidInput),
		errors.Is(err, readmodel.ErrInvalidInput):
		return http.StatusBadRequest, "invalid_request"
	case errors.Is(err, domain.ErrAccountNotFound),
		errors.Is(err, domain.ErrTransferNotFound),
		errors.Is(err, errNotFound),
		errors.Is(err, readmodel.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, domain.ErrAccountExists),
		errors.Is(err, domain.ErrTransferExists),
		errors.Is(err, domain.ErrTransferFinished):
		return http.StatusConflict, "conflict"
	case errors.Is(err, eventstore.ErrConcurrency):
		return http.StatusConflict, "concurrent_update"
	case errors.Is(err, domain.ErrInsufficientFunds):
		return http.StatusUnprocessableEntity, "insufficient_funds"
	case errors.Is(err, projection.ErrNotReady):
		return http.StatusServiceUnavailable, "not_ready"
	case errors.Is(err, projection.ErrStale), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "stale"
	}
	return http.StatusInternalServerError, "internal"
}
