package command

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/eventfold/eventfold/eventstore"
)

// KeySize is the length in bytes of the keys a KeyStore holds: AES-256.
const KeySize = 32

// DefaultKeyTimeout bounds each KeyStore call a ShreddingCodec makes, when
// ShreddingOptions.Timeout is zero.
const DefaultKeyTimeout = 5 * time.Second

// KeyStore keeps one encryption key per data subject (a customer, a user),
// outside the events. Deleting a subject's key with Forget makes every field
// encrypted with it unreadable: events are never rewritten, yet the personal
// data in them is gone (crypto-shredding). Implementations live in
// adapters/memstore and adapters/pgstore and pass the suite in
// command/commandtest. A KeyStore is safe for concurrent use.
//
// Keys are secrets: implementations never log them or put them in errors.
type KeyStore interface {
	// Key returns the key of subject, creating and storing a new random
	// KeySize-byte key if the subject has none (never had one, or it was
	// forgotten). Concurrent first calls for one subject return the same
	// key. The returned slice is the caller's. An invalid subject (see
	// ValidateSubject) fails with an error matching
	// eventstore.ErrInvalidInput.
	Key(ctx context.Context, subject string) ([]byte, error)

	// Lookup returns the key of subject and true, or nil and false if the
	// subject has no key. It never creates one. The returned slice is the
	// caller's.
	Lookup(ctx context.Context, subject string) (key []byte, ok bool, err error)

	// Forget deletes the key of subject, for good. Forgetting a subject
	// without a key is not an error. A later Key call creates a new key,
	// which cannot read anything encrypted with the forgotten one.
	Forget(ctx context.Context, subject string) error
}

// ValidateSubject checks a KeyStore subject: valid UTF-8 of 1 to
// eventstore.MaxTypeBytes bytes without NUL. It returns an
// *eventstore.InvalidInputError. KeyStore implementations call it first.
func ValidateSubject(subject string) error {
	switch {
	case subject == "":
		return &eventstore.InvalidInputError{Field: "subject", Reason: "empty"}
	case len(subject) > eventstore.MaxTypeBytes:
		return &eventstore.InvalidInputError{Field: "subject", Reason: fmt.Sprintf("longer than %d bytes", eventstore.MaxTypeBytes)}
	case !utf8.ValidString(subject) || strings.ContainsRune(subject, 0):
		return &eventstore.InvalidInputError{Field: "subject", Reason: "not valid UTF-8 without NUL"}
	}
	return nil
}

// ShreddingOptions configures a ShreddingCodec. A nil *ShreddingOptions
// means all defaults.
type ShreddingOptions struct {
	// Codec encodes the events once their marked fields are encrypted.
	// Nil means JSONCodec.
	Codec Codec

	// Timeout bounds each KeyStore call. Zero means DefaultKeyTimeout.
	Timeout time.Duration
}

// ShreddingCodec is a Codec that encrypts the fields of an event marked as
// personal data, each with the key of the data subject the event names, so
// that forgetting the subject's key (KeyStore.Forget) shreds that data in
// every stored event while the rest of each event stays readable. Use it as
// the Registry's codec:
//
//	codec, err := command.NewShreddingCodec(keys, nil)
//	reg := command.NewRegistry(&command.RegistryOptions{Codec: codec})
//
// A field is marked with the tag `eventfold:"pii,subject=F"`, where F is the
// Go name of a string field of the same struct holding the subject, for
// example
//
//	type CustomerRegistered struct {
//		CustomerID string
//		Name       string `eventfold:"pii,subject=CustomerID"`
//		Email      string `eventfold:"pii,subject=CustomerID"`
//		Country    string
//	}
//
// Marked fields are exported top-level fields of type string or []byte
// (fields of embedded or nested structs are not looked at); the subject field
// cannot be marked itself. Encoding replaces each marked value by an
// AES-256-GCM ciphertext with a random nonce, bound to the subject (not to
// the field name, so renaming a marked field is safe). With the JSON codec a
// marked string is stored as the JSON string "pii:v1:" followed by the
// base64 ciphertext, and a marked []byte as the base64 of a binary envelope,
// so the event stays valid JSON with its other fields in clear.
//
// An empty marked value (an empty string, a nil or empty []byte) is stored
// as it is and needs no key: a state rebuilt after a Forget, whose marked
// values are empty, copies them into new events without making the
// forgotten subject a new key.
//
// A Handler whose Registry uses a ShreddingCodec seals its snapshots under
// the keys of the subjects its stream names, so a Forget makes them
// unreadable too; Forget (the function) also clears read models through
// projection hooks.
//
// Decoding a marked field whose subject's key is gone, or was forgotten and
// replaced by a new key, gives the field's zero value, with no error: a
// projection rebuilt after a Forget shows no personal data and does not stop.
// A marked value that was stored in clear (written before the codec was in
// use) is decoded unchanged. A KeyStore that fails (rather than reporting no
// key) fails the Marshal or Unmarshal, so an outage never passes for a
// forgotten subject.
//
// Codec methods take no context, so each KeyStore call runs under
// context.Background() bounded by ShreddingOptions.Timeout, and costs one
// lookup per subject per event; the codec keeps no keys in memory, so a
// Forget takes effect at once in every process. Types without marked fields
// pass straight to the inner codec. A ShreddingCodec is safe for concurrent
// use.
type ShreddingCodec struct {
	keys    KeyStore
	inner   Codec
	timeout time.Duration
	plans   sync.Map // reflect.Type -> *piiPlan
}

var _ Codec = (*ShreddingCodec)(nil)

// NewShreddingCodec returns a ShreddingCodec that keeps its keys in keys.
func NewShreddingCodec(keys KeyStore, opts *ShreddingOptions) (*ShreddingCodec, error) {
	if keys == nil {
		return nil, errors.New("command: shredding codec: nil KeyStore")
	}
	c := &ShreddingCodec{keys: keys, inner: JSONCodec{}, timeout: DefaultKeyTimeout}
	if opts != nil {
		if opts.Codec != nil {
			c.inner = opts.Codec
		}
		if opts.Timeout < 0 {
			return nil, fmt.Errorf("command: shredding codec: negative timeout %s", opts.Timeout)
		}
		if opts.Timeout > 0 {
			c.timeout = opts.Timeout
		}
	}
	return c, nil
}

// ContentType returns the inner codec's content type.
func (c *ShreddingCodec) ContentType() string { return c.inner.ContentType() }

// Marshal encrypts the marked fields of v, a struct or a pointer to one,
// with the keys of their subjects, creating keys as needed, and encodes the
// result with the inner codec. v itself is not modified. An empty subject
// fails.
func (c *ShreddingCodec) Marshal(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return c.inner.Marshal(v)
	}
	plan, err := c.plan(rv.Type())
	if err != nil {
		return nil, err
	}
	if plan == nil {
		return c.inner.Marshal(v)
	}
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	keys := make(map[string][]byte)
	for _, f := range plan.fields {
		subject := cp.Field(f.subject).String()
		if subject == "" {
			return nil, fmt.Errorf("command: encrypt %s.%s: subject field %s is empty", rv.Type(), f.name, plan.subjectName(f))
		}
		fv := cp.Field(f.index)
		if fv.Len() == 0 {
			// Nothing to hide, so no key: a state rebuilt after a Forget
			// copies empty fields into new events without making the
			// forgotten subject a new key. nil stays nil, as JSON's null.
			continue
		}
		key, ok := keys[subject]
		if !ok {
			if key, err = c.key(subject); err != nil {
				return nil, fmt.Errorf("command: encrypt %s.%s: %w", rv.Type(), f.name, err)
			}
			keys[subject] = key
		}
		if f.bytes {
			sealed, err := seal(key, fv.Bytes(), aad(subject))
			if err != nil {
				return nil, err
			}
			fv.SetBytes(append([]byte(bytesPrefix), sealed...))
			continue
		}
		sealed, err := seal(key, []byte(fv.String()), aad(subject))
		if err != nil {
			return nil, err
		}
		fv.SetString(stringPrefix + base64.StdEncoding.EncodeToString(sealed))
	}
	return c.inner.Marshal(cp.Interface())
}

// Unmarshal decodes data into the value v points to with the inner codec,
// then decrypts its marked fields. A field whose subject's key is gone is
// set to its zero value.
func (c *ShreddingCodec) Unmarshal(data []byte, v any) error {
	if err := c.inner.Unmarshal(data, v); err != nil {
		return err
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil
	}
	rv = rv.Elem()
	plan, err := c.plan(rv.Type())
	if err != nil || plan == nil {
		return err
	}
	type lookup struct {
		key []byte
		ok  bool
	}
	keys := make(map[string]lookup)
	for _, f := range plan.fields {
		fv := rv.Field(f.index)
		var sealed []byte
		if f.bytes {
			b := fv.Bytes()
			if !bytes.HasPrefix(b, []byte(bytesPrefix)) {
				continue // stored in clear
			}
			sealed = b[len(bytesPrefix):]
		} else {
			s, ok := strings.CutPrefix(fv.String(), stringPrefix)
			if !ok {
				continue // stored in clear
			}
			if sealed, err = base64.StdEncoding.DecodeString(s); err != nil {
				return fmt.Errorf("command: decrypt %s.%s: malformed ciphertext: %w", rv.Type(), f.name, err)
			}
		}
		subject := rv.Field(f.subject).String()
		k, seen := keys[subject]
		if !seen && subject != "" {
			key, ok, err := c.lookup(subject)
			if err != nil {
				return fmt.Errorf("command: decrypt %s.%s: %w", rv.Type(), f.name, err)
			}
			k = lookup{key, ok}
			keys[subject] = k
		}
		var plain []byte
		if k.ok {
			plain = open(k.key, sealed, aad(subject))
		}
		switch {
		case plain == nil:
			fv.SetZero() // forgotten: the key is gone or was replaced
		case f.bytes:
			fv.SetBytes(plain)
		default:
			fv.SetString(string(plain))
		}
	}
	return nil
}

func (c *ShreddingCodec) key(subject string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	key, err := c.keys.Key(ctx, subject)
	if err == nil && len(key) != KeySize {
		err = fmt.Errorf("key store returned a %d-byte key, want %d", len(key), KeySize)
	}
	return key, err
}

func (c *ShreddingCodec) lookup(subject string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	key, ok, err := c.keys.Lookup(ctx, subject)
	if err == nil && ok && len(key) != KeySize {
		err = fmt.Errorf("key store returned a %d-byte key, want %d", len(key), KeySize)
	}
	return key, ok, err
}

const (
	// stringPrefix starts a marked string field's stored value; the
	// base64 of nonce and ciphertext follows.
	stringPrefix = "pii:v1:"
	// bytesPrefix starts a marked []byte field's stored value; nonce and
	// ciphertext follow.
	bytesPrefix = "\x00pii:v1:"
)

// aad binds a ciphertext to its subject, so that it cannot be moved into
// another subject's event unnoticed. The field name is left out on purpose:
// renaming a marked field (in Go or in its JSON tag) must not shred it.
func aad(subject string) []byte {
	return []byte("eventfold/pii/v1\x00" + subject)
}

func seal(key, plain, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plain)+gcm.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("command: encrypt: %w", err)
	}
	return gcm.Seal(out, out, plain, aad), nil
}

// open returns the plaintext, or nil if sealed cannot be opened with key.
// An empty plaintext is returned as a non-nil empty slice.
func open(key, sealed, aad []byte) []byte {
	gcm, err := newGCM(key)
	if err != nil || len(sealed) < gcm.NonceSize() {
		return nil
	}
	n := gcm.NonceSize()
	plain, err := gcm.Open(make([]byte, 0, len(sealed)), sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil
	}
	return plain
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("command: encryption key: %w", err)
	}
	return cipher.NewGCM(block)
}

// piiPlan lists the marked fields of one struct type.
type piiPlan struct {
	t      reflect.Type
	fields []piiField
}

type piiField struct {
	index   int
	name    string
	bytes   bool
	subject int
}

func (p *piiPlan) subjectName(f piiField) string { return p.t.Field(f.subject).Name }

// plan returns the marked fields of t, nil if it has none, or an error
// describing a bad tag.
func (c *ShreddingCodec) plan(t reflect.Type) (*piiPlan, error) {
	if t == nil || t.Kind() != reflect.Struct {
		return nil, nil
	}
	if p, ok := c.plans.Load(t); ok {
		return p.(*piiPlan), nil
	}
	p, err := newPlan(t)
	if err != nil {
		return nil, err
	}
	c.plans.Store(t, p)
	return p, nil
}

func newPlan(t reflect.Type) (*piiPlan, error) {
	p := &piiPlan{t: t}
	bad := func(f reflect.StructField, format string, args ...any) error {
		return fmt.Errorf("command: %s.%s: tag eventfold:%q: %s", t, f.Name, f.Tag.Get("eventfold"), fmt.Sprintf(format, args...))
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("eventfold")
		if !ok {
			continue
		}
		opts := strings.Split(tag, ",")
		if opts[0] != "pii" {
			return nil, bad(f, "want pii,subject=Field")
		}
		var subject string
		for _, o := range opts[1:] {
			name, ok := strings.CutPrefix(o, "subject=")
			if !ok || subject != "" {
				return nil, bad(f, "unknown or repeated option %q", o)
			}
			subject = name
		}
		if subject == "" {
			return nil, bad(f, "missing subject=Field")
		}
		if !f.IsExported() || f.Anonymous {
			return nil, bad(f, "marked fields must be exported and not embedded")
		}
		isBytes := f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8
		if f.Type.Kind() != reflect.String && !isBytes {
			return nil, bad(f, "marked fields must be of type string or []byte, not %s", f.Type)
		}
		sf, ok := t.FieldByName(subject)
		if !ok || len(sf.Index) != 1 || sf.Type.Kind() != reflect.String {
			return nil, bad(f, "subject %s is not a string field of %s", subject, t)
		}
		if _, marked := sf.Tag.Lookup("eventfold"); marked {
			return nil, bad(f, "subject %s is itself marked", subject)
		}
		p.fields = append(p.fields, piiField{index: i, name: f.Name, bytes: isBytes, subject: sf.Index[0]})
	}
	if len(p.fields) == 0 {
		return nil, nil
	}
	return p, nil
}
