package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"unicode"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"

	"github.com/eventfold/eventfold/examples/bank/domain"
	"github.com/eventfold/eventfold/examples/bank/readside"
)

// TokenHeader carries consistency tokens, in responses to commands and in
// queries that must see a write.
const TokenHeader = "X-Consistency-Token"

// MaxPageSize is the most items a page holds.
const MaxPageSize = 100

const maxBodyBytes = 64 << 10

// Server serves the API. Build it with New.
type Server struct {
	cmds command.Sender
	q    *readside.Queries
	log  *slog.Logger
	mux  *http.ServeMux
}

// New returns the API: commands go to cmds, queries read through q.
func New(cmds command.Sender, q *readside.Queries, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cmds: cmds, q: q, log: logger, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /accounts", s.openAccount)
	s.mux.HandleFunc("POST /accounts/{id}/deposits", s.deposit)
	s.mux.HandleFunc("POST /accounts/{id}/withdrawals", s.withdraw)
	s.mux.HandleFunc("POST /transfers", s.requestTransfer)
	s.mux.HandleFunc("GET /accounts/{id}", s.getAccount)
	s.mux.HandleFunc("GET /accounts", s.listAccounts)
	s.mux.HandleFunc("GET /accounts/{id}/ledger", s.getLedger)
	s.mux.HandleFunc("GET /transfers/{id}", s.getTransfer)
	return s
}

// ServeHTTP implements http.Handler. Every request gets a correlation ID
// (from a well-formed X-Request-ID header, or a new one), which ends up on
// every event the request causes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-ID")
	if !printable(id, 128) {
		id = eventstore.NewEventID()
	}
	w.Header().Set("X-Request-ID", id)
	s.mux.ServeHTTP(w, r.WithContext(command.WithCorrelationID(r.Context(), id)))
}

// CommandResponse answers a command that succeeded.
type CommandResponse struct {
	ID       string `json:"id"`
	Version  int64  `json:"version"`
	Token    string `json:"token"`
	Replayed bool   `json:"replayed,omitempty"`
}

type openAccountRequest struct {
	ID             string `json:"id"`
	Owner          string `json:"owner"`
	OverdraftLimit int64  `json:"overdraft_limit"`
}

type amountRequest struct {
	Amount int64 `json:"amount"`
}

type transferRequest struct {
	ID     string `json:"id"`
	From   string `json:"from"`
	To     string `json:"to"`
	Amount int64  `json:"amount"`
}

func (s *Server) openAccount(w http.ResponseWriter, r *http.Request) {
	var req openAccountRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.ID == "" {
		req.ID = eventstore.NewEventID()
	}
	s.command(w, r, http.StatusCreated, req.ID, "/accounts/"+req.ID,
		domain.OpenAccount{AccountID: req.ID, Owner: req.Owner, OverdraftLimit: req.OverdraftLimit})
}

func (s *Server) deposit(w http.ResponseWriter, r *http.Request) {
	id, key, req, ok := s.amountCommand(w, r, "deposit")
	if ok {
		s.command(w, r, http.StatusOK, id, "", domain.Deposit{AccountID: id, Amount: req.Amount, Key: key})
	}
}

func (s *Server) withdraw(w http.ResponseWriter, r *http.Request) {
	id, key, req, ok := s.amountCommand(w, r, "withdraw")
	if ok {
		s.command(w, r, http.StatusOK, id, "", domain.Withdraw{AccountID: id, Amount: req.Amount, Key: key})
	}
}

// amountCommand reads the account ID, the idempotency key and the body of a
// deposit or a withdrawal.
func (s *Server) amountCommand(w http.ResponseWriter, r *http.Request, op string) (id, key string, req amountRequest, ok bool) {
	id, ok = s.pathID(w, r)
	if !ok {
		return "", "", req, false
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if !printable(k, 200) {
			s.fail(w, r, badRequest("Idempotency-Key: want 1 to 200 printable characters"))
			return "", "", req, false
		}
		// Keys are global to the event store: scope them to this operation.
		key = "http:" + op + ":" + id + ":" + k
	}
	if !s.decode(w, r, &req) {
		return "", "", req, false
	}
	return id, key, req, true
}

func (s *Server) requestTransfer(w http.ResponseWriter, r *http.Request) {
	var req transferRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.ID == "" {
		req.ID = eventstore.NewEventID()
	}
	s.command(w, r, http.StatusAccepted, req.ID, "/transfers/"+req.ID,
		domain.RequestTransfer{TransferID: req.ID, From: req.From, To: req.To, Amount: req.Amount})
}

// command dispatches cmd and answers with its version and token.
func (s *Server) command(w http.ResponseWriter, r *http.Request, status int, id, location string, cmd any) {
	res, err := s.cmds.Dispatch(r.Context(), cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	token := res.Position.String()
	w.Header().Set(TokenHeader, token)
	if location != "" {
		w.Header().Set("Location", location)
	}
	writeJSON(w, status, CommandResponse{ID: id, Version: res.StreamVersion, Token: token, Replayed: res.Replayed})
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	id, token, ok := s.idAndToken(w, r)
	if !ok {
		return
	}
	a, err := s.q.Account(r.Context(), token, id)
	if err != nil {
		s.fail(w, r, notFound(err, "account", id))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) {
	token, ok := s.token(w, r)
	if !ok {
		return
	}
	owner := r.URL.Query().Get("owner")
	if owner == "" {
		s.fail(w, r, badRequest("owner: required, for example /accounts?owner=ada"))
		return
	}
	pr, ok := s.pageRequest(w, r)
	if !ok {
		return
	}
	page, err := s.q.AccountsByOwner(r.Context(), token, owner, pr)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) getLedger(w http.ResponseWriter, r *http.Request) {
	id, token, ok := s.idAndToken(w, r)
	if !ok {
		return
	}
	pr, ok := s.pageRequest(w, r)
	if !ok {
		return
	}
	// An unknown account is a 404, not an empty statement.
	if _, err := s.q.Account(r.Context(), token, id); err != nil {
		s.fail(w, r, notFound(err, "account", id))
		return
	}
	page, err := s.q.Ledger(r.Context(), token, id, pr)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) getTransfer(w http.ResponseWriter, r *http.Request) {
	id, token, ok := s.idAndToken(w, r)
	if !ok {
		return
	}
	t, err := s.q.Transfer(r.Context(), token, id)
	if err != nil {
		s.fail(w, r, notFound(err, "transfer", id))
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !domain.ValidID(id) {
		s.fail(w, r, badRequest(fmt.Sprintf("id %q: want 1 to 64 letters, digits, '-' or '_'", id)))
		return "", false
	}
	return id, true
}

func (s *Server) idAndToken(w http.ResponseWriter, r *http.Request) (string, eventstore.Position, bool) {
	id, ok := s.pathID(w, r)
	if !ok {
		return "", eventstore.Position{}, false
	}
	token, ok := s.token(w, r)
	return id, token, ok
}

// token reads the consistency token of a query, if any.
func (s *Server) token(w http.ResponseWriter, r *http.Request) (eventstore.Position, bool) {
	t := r.URL.Query().Get("token")
	if t == "" {
		t = r.Header.Get(TokenHeader)
	}
	if t == "" {
		return eventstore.Position{}, true
	}
	pos, err := eventstore.ParsePosition(t)
	if err != nil {
		s.fail(w, r, badRequest(fmt.Sprintf("token %q: not a consistency token returned by a command", t)))
		return eventstore.Position{}, false
	}
	return pos, true
}

func (s *Server) pageRequest(w http.ResponseWriter, r *http.Request) (readside.PageRequest, bool) {
	q := r.URL.Query()
	pr := readside.PageRequest{Limit: 20}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			s.fail(w, r, badRequest(fmt.Sprintf("limit %q: want 1 to %d", v, MaxPageSize)))
			return pr, false
		}
		pr.Limit = n
	}
	// Cursors are URL-safe text; a forged one is rejected by the read
	// model as invalid input, a 400.
	pr.Cursor = q.Get("cursor")
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		pr.Descending = true
	default:
		s.fail(w, r, badRequest(`order: want "asc" or "desc"`))
		return pr, false
	}
	return pr, true
}

// decode reads a JSON body into v with command.DecodeJSON: repeated keys,
// keys in another case than the field's, unknown fields, invalid UTF-8,
// trailing data, wrong types and oversized bodies are 400s.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := command.DecodeJSON(http.MaxBytesReader(w, r.Body, maxBodyBytes), v)
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var bad *command.JSONError
	switch {
	case errors.As(err, &tooBig):
		err = fmt.Errorf("body larger than %d bytes", maxBodyBytes)
	case errors.As(err, &bad):
		err = bad
	}
	s.fail(w, r, badRequest("body: "+err.Error()))
	return false
}

// printable reports whether s is 1 to max printable ASCII characters.
func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range s {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

// errorBody is the body of every error response.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := classify(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	writeJSON(w, status, errorBody{Error: msg, Code: code})
}
