package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// JSONError is the error of DecodeJSON for input it rejects. It matches
// ErrInvalidCommand.
type JSONError struct {
	// Path locates the problem, for example `$.items[2].amount`; "$" is
	// the whole document.
	Path   string
	Reason string
}

func (e *JSONError) Error() string {
	if e.Path == "" || e.Path == "$" {
		return "invalid JSON: " + e.Reason
	}
	return "invalid JSON at " + e.Path + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidCommand) true.
func (e *JSONError) Is(target error) bool { return target == ErrInvalidCommand }

// DecodeJSON reads one JSON value from r into v, strictly, as input from
// outside (an HTTP body, a message) should be read. encoding/json alone
// takes the last of repeated keys, matches keys to struct fields ignoring
// case and reads invalid UTF-8 as U+FFFD, so {"amount":1,"AMOUNT":2}
// would decode as amount 2. DecodeJSON instead rejects, with a *JSONError:
//
//   - bytes that are not valid UTF-8;
//   - a key repeated in one object;
//   - a key that names a struct field in another case than the field's
//     JSON name, and a key that names no field;
//   - anything after the value, and an empty input;
//   - what json.Unmarshal rejects (syntax, wrong types).
//
// Objects decoded into maps or interfaces may hold any keys, each once.
// Values of types that implement json.Unmarshaler are checked for repeated
// keys only. Errors from r (an *http.MaxBytesError, say) are returned
// wrapped, not as a *JSONError. Limit the size of r: DecodeJSON reads it
// all.
func DecodeJSON(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read JSON: %w", err)
	}
	if !utf8.Valid(data) {
		return &JSONError{Path: "$", Reason: fmt.Sprintf("byte %d is not valid UTF-8", invalidUTF8At(data))}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &JSONError{Path: "$", Reason: "empty input, want a JSON value"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var t reflect.Type
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		t = rv.Type().Elem()
	}
	if err := checkKeys(dec, t, "$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &JSONError{Path: "$", Reason: "unexpected data after the JSON value"}
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var terr *json.UnmarshalTypeError
		if errors.As(err, &terr) && terr.Field != "" {
			return &JSONError{Path: "$." + terr.Field, Reason: "want " + terr.Type.String() + ", not " + terr.Value}
		}
		return &JSONError{Path: "$", Reason: strings.TrimPrefix(err.Error(), "json: ")}
	}
	return nil
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkKeys reads one value from dec, rejecting repeated keys and keys that
// do not name a field of t exactly, when t is a struct.
func checkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return &JSONError{Path: path, Reason: strings.TrimPrefix(err.Error(), "json: ")}
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	t = concrete(t)
	if delim == '[' {
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := checkKeys(dec, elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t != nil && t.Kind() == reflect.Struct:
		fields = jsonFields(t)
	case t != nil && t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &JSONError{Path: path, Reason: strings.TrimPrefix(err.Error(), "json: ")}
		}
		key := tok.(string)
		if seen[key] {
			return &JSONError{Path: path, Reason: fmt.Sprintf("key %q appears more than once", key)}
		}
		seen[key] = true
		next := elem
		if fields != nil {
			ft, ok := fields[key]
			if !ok {
				return unknownKey(path, key, fields)
			}
			next = ft
		}
		if err := checkKeys(dec, next, path+"."+key); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

// concrete returns the type whose fields a JSON object fills, or nil when
// DecodeJSON does not look inside: unknown types and json.Unmarshalers.
func concrete(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

func unknownKey(path, key string, fields map[string]reflect.Type) error {
	for name := range fields {
		if foldKey(name) == foldKey(key) {
			return &JSONError{Path: path, Reason: fmt.Sprintf("key %q: the field is %q (keys are case-sensitive)", key, name)}
		}
	}
	return &JSONError{Path: path, Reason: fmt.Sprintf("unknown key %q", key)}
}

// jsonFields returns the JSON names of t's fields as encoding/json sees
// them, with their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				continue // its fields are promoted, and listed on their own
			}
			if !f.IsExported() {
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := fields[name]; !dup {
			fields[name] = f.Type
		}
	}
	return fields
}

// foldKey folds case the way encoding/json matches keys to fields.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(r)
	}
	return b.String()
}
