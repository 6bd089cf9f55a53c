package command

import (
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/eventfold/eventfold/eventstore"
)

// SchemaKey is the key in eventstore.Metadata.Extra under which the
// [Registry] stores an event's schema version, in decimal. An event without
// it has schema version 1, so events written by other tools decode as the
// first version.
const SchemaKey = "schema"

// UpcastFunc turns the encoded data of one schema version of an event into
// the encoded data of the next version. It runs on read only; stored events
// are never rewritten.
type UpcastFunc func(data []byte) ([]byte, error)

// EventOptions describes how an event type evolved. A nil *EventOptions
// means schema version 1 with no upcasters.
type EventOptions struct {
	// Version is the current schema version of the Go type, written with
	// every new event. Zero means 1.
	Version int

	// Upcasters maps a stored schema version to the function that upgrades
	// it to the next version. Reading an event stored at version v < Version
	// runs Upcasters[v], Upcasters[v+1], …, Upcasters[Version-1] in turn and
	// decodes the result into the Go type. A step missing from the chain
	// makes reads of that version fail with a clear error.
	Upcasters map[int]UpcastFunc
}

// RegistryOptions configures a Registry. A nil *RegistryOptions means all
// defaults.
type RegistryOptions struct {
	// Codec encodes event payloads. Nil means JSONCodec.
	Codec Codec
}

// Registry maps Go event types to stored type names and back, and upgrades
// old stored schema versions on read. Register every event type at start-up,
// before use; a Registry is then safe for concurrent use. Names are part of
// the stored data: renaming a Go type is free, renaming its registered name
// is a migration.
type Registry struct {
	codec Codec

	mu     sync.RWMutex
	byName map[string]*eventType
	byType map[reflect.Type]*eventType
}

type eventType struct {
	name      string
	goType    reflect.Type
	version   int
	upcasters map[int]UpcastFunc
}

// NewRegistry returns an empty Registry.
func NewRegistry(opts *RegistryOptions) *Registry {
	r := &Registry{
		codec:  JSONCodec{},
		byName: make(map[string]*eventType),
		byType: make(map[reflect.Type]*eventType),
	}
	if opts != nil && opts.Codec != nil {
		r.codec = opts.Codec
	}
	return r
}

// Codec returns the codec r encodes events with.
func (r *Registry) Codec() Codec { return r.codec }

// Register maps the Go type T to the stored type name. T must be a concrete
// (non-interface) type; events are encoded from and decoded to values of
// exactly T, so register Deposited and emit Deposited{…}, not &Deposited{…}.
// Registering a name or a type twice is an error, as are upcasters outside
// the versions 1 to Version-1.
func Register[T any](r *Registry, name string, opts *EventOptions) error {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Interface {
		return fmt.Errorf("command: register %q: %s is an interface type; register the concrete event types", name, t)
	}
	if name == "" || len(name) > eventstore.MaxTypeBytes || !utf8.ValidString(name) {
		return fmt.Errorf("command: register %s: the name must be valid UTF-8 of 1 to %d bytes", t, eventstore.MaxTypeBytes)
	}
	et := &eventType{name: name, goType: t, version: 1}
	if opts != nil {
		if opts.Version < 0 {
			return fmt.Errorf("command: register %q: negative schema version %d", name, opts.Version)
		}
		if opts.Version > 0 {
			et.version = opts.Version
		}
		et.upcasters = make(map[int]UpcastFunc, len(opts.Upcasters))
		for from, up := range opts.Upcasters {
			if from < 1 || from >= et.version {
				return fmt.Errorf("command: register %q: upcaster from version %d is outside 1 to %d", name, from, et.version-1)
			}
			if up == nil {
				return fmt.Errorf("command: register %q: upcaster from version %d is nil", name, from)
			}
			et.upcasters[from] = up
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byName[name]; ok {
		return fmt.Errorf("command: register %s: name %q is already registered for %s", t, name, old.goType)
	}
	if old, ok := r.byType[t]; ok {
		return fmt.Errorf("command: register %q: %s is already registered as %q", name, t, old.name)
	}
	r.byName[name] = et
	r.byType[t] = et
	return nil
}

// Name returns the stored type name of event, whose dynamic type must be
// registered. Projections use it to match records without decoding them.
func (r *Registry) Name(event any) (string, error) {
	et, err := r.lookupType(event)
	if err != nil {
		return "", err
	}
	return et.name, nil
}

func (r *Registry) lookupType(event any) (*eventType, error) {
	t := reflect.TypeOf(event)
	r.mu.RLock()
	et, ok := r.byType[t]
	r.mu.RUnlock()
	if !ok {
		name := "<nil>"
		if t != nil {
			name = t.String()
		}
		return nil, &UnknownEventTypeError{GoType: name}
	}
	return et, nil
}

// Encode returns the event to append for the Go value event: its registered
// type name, its data encoded by the codec, and its current schema version
// in Metadata.Extra[SchemaKey]. The caller adds IDs and other metadata.
func (r *Registry) Encode(event any) (eventstore.Event, error) {
	et, err := r.lookupType(event)
	if err != nil {
		return eventstore.Event{}, err
	}
	data, err := r.codec.Marshal(event)
	if err != nil {
		return eventstore.Event{}, fmt.Errorf("command: encode %q: %w", et.name, err)
	}
	return eventstore.Event{
		Type:        et.name,
		Data:        data,
		ContentType: r.codec.ContentType(),
		Metadata:    eventstore.Metadata{Extra: map[string]string{SchemaKey: strconv.Itoa(et.version)}},
	}, nil
}

// Decode returns the Go value of a stored event, a value of the type
// registered for rec.Type. Data stored at an older schema version goes
// through the registered upcasters first. An unregistered type name fails
// with an *UnknownEventTypeError; a schema version newer than the
// registered one, a missing upcaster or a content type other than the
// codec's fail with a descriptive error. Decode never panics on bad data.
func (r *Registry) Decode(rec eventstore.Record) (any, error) {
	return r.decode(rec, r.codec)
}

// decode is Decode with codec, which must read the registry codec's content
// type, in place of it.
func (r *Registry) decode(rec eventstore.Record, codec Codec) (any, error) {
	et, data, err := r.upcast(rec)
	if err != nil {
		return nil, err
	}
	ptr := reflect.New(et.goType)
	if err := codec.Unmarshal(data, ptr.Interface()); err != nil {
		return nil, fmt.Errorf("command: decode %s: %w", describe(rec), err)
	}
	return ptr.Elem().Interface(), nil
}

// UpcastRecord returns rec with its data brought to the current schema
// version of its type by the registered upcasters, still encoded, and its
// Metadata.Extra[SchemaKey] set to that version. Tools that show stored
// events (the console, eventfold streams show) use it to show them as
// deciders and projections read them, without decoding them: fields a
// ShreddingCodec sealed stay sealed. It fails as Decode does for an
// unregistered type, another content type or a broken upcaster chain.
func (r *Registry) UpcastRecord(rec eventstore.Record) (eventstore.Record, error) {
	et, data, err := r.upcast(rec)
	if err != nil {
		return rec, err
	}
	extra := make(map[string]string, len(rec.Metadata.Extra)+1)
	for k, v := range rec.Metadata.Extra {
		extra[k] = v
	}
	extra[SchemaKey] = strconv.Itoa(et.version)
	rec.Data, rec.Metadata.Extra = data, extra
	return rec, nil
}

// upcast finds rec's registered type and runs its data through the
// upcasters from the stored schema version to the current one.
func (r *Registry) upcast(rec eventstore.Record) (*eventType, []byte, error) {
	r.mu.RLock()
	et, ok := r.byName[rec.Type]
	r.mu.RUnlock()
	if !ok {
		return nil, nil, &UnknownEventTypeError{Name: rec.Type}
	}
	ct := rec.ContentType
	if ct == "" {
		ct = eventstore.ContentTypeJSON
	}
	if ct != r.codec.ContentType() {
		return nil, nil, fmt.Errorf("command: decode %s: content type %q, but the codec reads %q", describe(rec), ct, r.codec.ContentType())
	}
	version, err := SchemaVersion(rec.Metadata)
	if err != nil {
		return nil, nil, fmt.Errorf("command: decode %s: %w", describe(rec), err)
	}
	if version > et.version {
		return nil, nil, fmt.Errorf("command: decode %s: stored schema version %d is newer than the registered version %d", describe(rec), version, et.version)
	}
	data := rec.Data
	for v := version; v < et.version; v++ {
		up := et.upcasters[v]
		if up == nil {
			return nil, nil, fmt.Errorf("command: decode %s: no upcaster from schema version %d to %d", describe(rec), v, v+1)
		}
		if data, err = up(data); err != nil {
			return nil, nil, fmt.Errorf("command: decode %s: upcast from schema version %d: %w", describe(rec), v, err)
		}
	}
	return et, data, nil
}

func describe(rec eventstore.Record) string {
	return fmt.Sprintf("event %q (stream %q, version %d)", rec.Type, rec.StreamID, rec.Version)
}

// SchemaVersion returns the schema version recorded in m.Extra[SchemaKey],
// or 1 if there is none.
func SchemaVersion(m eventstore.Metadata) (int, error) {
	s, ok := m.Extra[SchemaKey]
	if !ok {
		return 1, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("command: schema version %q is not a positive integer", s)
	}
	return v, nil
}

// Upcast returns an UpcastFunc that decodes the data of one schema version
// as From with codec c, converts it with f and encodes the result as the
// next version. From and To are usually small structs that mirror the old
// and new shapes; the old one can stay private to the upcaster.
func Upcast[From, To any](c Codec, f func(From) (To, error)) UpcastFunc {
	return func(data []byte) ([]byte, error) {
		var old From
		if err := c.Unmarshal(data, &old); err != nil {
			return nil, err
		}
		next, err := f(old)
		if err != nil {
			return nil, err
		}
		return c.Marshal(next)
	}
}
