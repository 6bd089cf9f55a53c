package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/eventfold/eventfold/eventstore"
)

// Hash returns the hash a Handler stores with a keyed command's idempotency
// key: the hex SHA-256 of the command's Go type name (package name and
// type, as %T prints it) and its JSON encoding. A retry must send a command
// with the same hash; any other command under the same key fails with
// ErrKeyReused. Fields that JSON leaves out (unexported, `json:"-"`) do not
// count. It fails when cmd does not encode to JSON.
func Hash(cmd any) (string, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return "", fmt.Errorf("command: hash of keyed command %T: %w", cmd, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%T\n", cmd)
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// refusalCode is one entry of Options.Refusals.
type refusalCode struct {
	code string
	err  error
}

// refusalCodes returns the entries of Options.Refusals in code order, so
// that an error matching several of them always gets the same code.
func refusalCodes(m map[string]error) ([]refusalCode, error) {
	var out []refusalCode
	var errs []error
	for code, err := range m {
		switch {
		case code == "" || !utf8Text(code):
			errs = append(errs, fmt.Errorf("command: NewHandler: Options.Refusals: code %q must be non-empty text", code))
		case err == nil:
			errs = append(errs, fmt.Errorf("command: NewHandler: Options.Refusals[%q] is nil", code))
		default:
			out = append(out, refusalCode{code: code, err: err})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].code < out[j].code })
	return out, errors.Join(errs...)
}

func utf8Text(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// rejected wraps an error of Decide in a RejectedError with its code: the
// code of the first Options.Refusals entry it matches, else its Go type.
func (h *Handler[S, C, E]) rejected(err error) *RejectedError {
	for _, r := range h.refusals {
		if errors.Is(err, r.err) {
			return &RejectedError{Err: err, Code: r.code}
		}
	}
	return &RejectedError{Err: err, Code: reflect.TypeOf(err).String()}
}

// replayedRefusal returns the RejectedError of a refusal recorded under a
// key, unwrapping to the Options.Refusals error its code names.
func (h *Handler[S, C, E]) replayedRefusal(r eventstore.Refusal) *RejectedError {
	e := &recordedRefusal{message: r.Message}
	for _, rc := range h.refusals {
		if rc.code == r.Code {
			e.sentinel = rc.err
			break
		}
	}
	return &RejectedError{Err: e, Code: r.Code, Replayed: true}
}

// recordedRefusal is a refusal read back from the store: its message, and
// the domain error its code maps to, if any.
type recordedRefusal struct {
	message  string
	sentinel error
}

func (e *recordedRefusal) Error() string { return e.message }
func (e *recordedRefusal) Unwrap() error { return e.sentinel }

// keyedCommand is a command's idempotency key and the store that keeps the
// key's outcome.
type keyedCommand struct {
	store eventstore.OutcomeStore
	key   eventstore.CommandKey
}

// keyOf returns the key of a keyed command (its own, or else the one ctx
// carries), or nil for a command without one.
func (h *Handler[S, C, E]) keyOf(ctx context.Context, cmd any) (*keyedCommand, error) {
	var key string
	if k, ok := cmd.(Keyed); ok {
		key = k.IdempotencyKey()
	}
	if key == "" {
		key = IdempotencyKey(ctx)
	}
	if key == "" {
		return nil, nil
	}
	store, err := eventstore.Outcomes(h.store)
	if err != nil {
		return nil, fmt.Errorf("%w (command %T, store %T)", ErrIdempotencyUnsupported, cmd, h.store)
	}
	hash, err := Hash(cmd)
	if err != nil {
		return nil, err
	}
	return &keyedCommand{store: store, key: eventstore.CommandKey{Key: key, Hash: hash}}, nil
}

// settleKeyed ends a keyed command that appends nothing: it records a
// refusal (decideErr) under the key, or looks the key up for a no-op, which
// is not recorded. A key recorded before returns its first outcome.
func (h *Handler[S, C, E]) settleKeyed(ctx context.Context, keyed *keyedCommand, streamID string, l loaded[S], decideErr error) (Result, error) {
	keys, key := keyed.store, keyed.key
	if decideErr == nil {
		rec, ok, err := keys.LookupKey(ctx, key.Key)
		if err != nil {
			return Result{}, fmt.Errorf("command: look up idempotency key %s: %w", quoteKey(key.Key), err)
		}
		if !ok {
			return Result{StreamVersion: l.version, Position: l.position}, nil
		}
		if err := rec.Check(key); err != nil {
			return Result{}, err
		}
		return h.recorded(rec)
	}
	rej := h.rejected(decideErr)
	refusal := eventstore.Refusal{Code: textOf(rej.Code), Message: textOf(rej.Error())}
	rec, err := keys.RecordRefusal(ctx, key, streamID, refusal)
	switch {
	case errors.Is(err, eventstore.ErrKeyReused):
		return Result{}, err
	case err != nil:
		// Not recorded, the refusal could be decided differently next
		// time: report a failure the caller retries, not the refusal.
		return Result{}, fmt.Errorf("command: record refusal under idempotency key %s: %w", quoteKey(key.Key), err)
	case !rec.Result.Replayed:
		return Result{}, rej
	}
	return h.recorded(rec)
}

// recorded returns the first outcome of a key recorded before.
func (h *Handler[S, C, E]) recorded(rec eventstore.KeyRecord) (Result, error) {
	if rec.Refusal != nil {
		return Result{}, h.replayedRefusal(*rec.Refusal)
	}
	return Result{StreamVersion: rec.Result.StreamVersion, Position: rec.Result.Position, Replayed: true}, nil
}

// textOf makes s storable as text: valid UTF-8 without NUL bytes.
func textOf(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// quoteKey keeps long or hostile keys readable in messages.
func quoteKey(k string) string {
	if len(k) > 80 {
		k = k[:80] + "…"
	}
	return fmt.Sprintf("%q", k)
}
