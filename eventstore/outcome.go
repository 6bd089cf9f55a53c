package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

var (
	// ErrKeyReused reports a command key sent with a different command than
	// the one first handled under it (their hashes differ). Nothing was
	// appended or recorded. Check with errors.Is; KeyReusedError names the
	// key.
	ErrKeyReused = errors.New("eventstore: command key reused for a different command")

	// ErrKeyRefused reports an AppendKeyed whose command key holds a
	// refusal (see OutcomeStore.RecordRefusal): the command was refused the
	// first time, so nothing was appended. Check with errors.Is.
	ErrKeyRefused = errors.New("eventstore: command key holds a refusal")
)

// CommandKey identifies a keyed command: its idempotency key, and a hash of
// the command that tells a retry of the same command from a different
// command sent with the same key.
type CommandKey struct {
	// Key is the idempotency key. It must not be empty.
	Key string
	// Hash identifies the command, for example a hex SHA-256 of its
	// encoding. Empty means unknown: it never makes ErrKeyReused.
	Hash string
}

// Refusal is what a store keeps of a keyed command that the domain refused.
type Refusal struct {
	// Code is a stable name of the refusal, which a command handler maps
	// back to the domain's error. It may be empty.
	Code string
	// Message is the refusal's error message.
	Message string
}

// KeyRecord is the first outcome of a keyed command, as a store keeps it:
// the events it appended, or its refusal.
type KeyRecord struct {
	// Hash is the CommandKey.Hash the key was first recorded with; empty
	// when unknown (recorded by AppendKeyed, or before the store kept
	// hashes).
	Hash string
	// Refusal is the command's refusal; nil when the command appended
	// events.
	Refusal *Refusal
	// Result is the result of the append when the command appended events
	// (zero apart from Replayed for a refusal). Result.Replayed reports
	// that the key was recorded before the call that returns the record,
	// for refusals too.
	Result AppendResult
}

// Check returns a *KeyReusedError when r was recorded for a different
// command than key names: both hashes are known and differ.
func (r KeyRecord) Check(key CommandKey) error {
	if r.Hash != "" && key.Hash != "" && r.Hash != key.Hash {
		return &KeyReusedError{Key: key.Key}
	}
	return nil
}

// KeyReusedError names a command key that was sent with a different
// command than the one first handled under it. It matches ErrKeyReused.
// Its message names the key, never the commands.
type KeyReusedError struct {
	Key string
}

func (e *KeyReusedError) Error() string {
	key := e.Key
	if len(key) > 80 {
		key = key[:80] + "…"
	}
	return fmt.Sprintf("eventstore: command key %q was first used for a different command; send a new key for a new command", key)
}

// Is makes errors.Is(err, ErrKeyReused) true.
func (e *KeyReusedError) Is(target error) bool { return target == ErrKeyReused }

// OutcomeStore is the capability of KeyedAppenders that keep the first outcome
// of every keyed command, refusals included, with a hash of the command.
// A key's record is kept, per tenant, for the same retention period as
// AppendKeyed's keys (refusals are pruned with them), and every process
// sharing the store sees it.
//
// Every method returns, when the key was recorded before, that record with
// Result.Replayed set, and stores nothing. When both the recorded and the
// given hash are known and differ, AppendCommand and RecordRefusal store
// nothing and fail with a *KeyReusedError instead (KeyRecord.Check).
// AppendKeyed on a key that holds a refusal stores nothing and fails with
// an error matching ErrKeyRefused. Reach it with [Outcomes].
type OutcomeStore interface {
	KeyedAppender
	// AppendCommand is AppendKeyed for key.Key that stores key.Hash with
	// the key, in the append's transaction. For a new key it returns the
	// record of this append (Refusal nil, Result.Replayed false).
	AppendCommand(ctx context.Context, key CommandKey, streamID string, expected ExpectedVersion, events []Event) (KeyRecord, error)
	// RecordRefusal records that the command key names was refused on
	// stream streamID, unless the key is recorded already. It returns the
	// key's record: the refusal just stored, with Result.Replayed false,
	// or the earlier one.
	RecordRefusal(ctx context.Context, key CommandKey, streamID string, refusal Refusal) (KeyRecord, error)
	// LookupKey returns the record of key and true, or false when the key
	// is unknown (never used, or pruned).
	LookupKey(ctx context.Context, key string) (KeyRecord, bool, error)
}

// ValidateCommandKey checks the arguments of an OutcomeStore call: a
// non-empty key of at most MaxStreamIDBytes of valid UTF-8 without NUL
// bytes, and a hash and, when given, a refusal of the same kind of text.
// Errors are *InvalidInputError.
func ValidateCommandKey(key CommandKey, refusal *Refusal) error {
	if err := validateName("command key", key.Key, MaxStreamIDBytes); err != nil {
		return err
	}
	if len(key.Hash) > MaxStreamIDBytes || !isText(key.Hash) {
		return invalid("command hash", "must be at most 512 bytes of valid UTF-8 without NUL bytes")
	}
	if refusal != nil && (!isText(refusal.Code) || !isText(refusal.Message)) {
		return invalid("refusal", "code and message must be valid UTF-8 without NUL bytes")
	}
	return nil
}

func isText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
