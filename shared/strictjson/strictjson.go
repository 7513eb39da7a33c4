// Package strictjson decodes JSON that comes from outside the system
// without the leniencies of encoding/json, which matches object keys to
// struct fields case-insensitively (so "To" fills the field tagged "to"),
// lets a later duplicate key silently override an earlier one, and ignores
// keys it does not know. Any of these lets a body mean one thing to a
// reader (a person, a queue's routing, a log) and another to the code.
//
// Unmarshal refuses all three: every key must name a field exactly, appear
// once per object, and be known, at every depth; and null, which
// encoding/json silently skips, is refused except where the target is an
// interface (or decodes itself). Keys decoded into a map
// or an interface value are free, but still unique. UniqueKeys is the
// lenient check for payloads whose producer adds keys over time (Meta's
// webhooks): it refuses only duplicate keys, including keys that differ
// only in case, which encoding/json would read as the same field.
//
// Errors name the path and the key, never a value, so they can be logged
// and returned to the sender of the input. It imports only the standard
// library.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Error is a key problem found before decoding.
type Error struct {
	Path    string // JSON path of the object, "$" for the top level
	Problem string
}

func (e *Error) Error() string { return e.Path + ": " + e.Problem }

// Unmarshal decodes data into v (a non-nil pointer) strictly: exactly one
// JSON value, no duplicate keys, no unknown keys, key names matching the
// struct tags exactly. A key problem is an *Error.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictjson: Unmarshal needs a non-nil pointer, got %T", v)
	}
	if err := check(data, rv.Type().Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// UniqueKeys checks that data is one JSON value in which no object has a
// key twice, exactly or differing only in case. Unknown keys are fine.
func UniqueKeys(data []byte) error { return check(data, nil) }

// check walks data against t (nil: any keys are allowed): valid JSON with
// the scanner, anything else with walker, which finds the syntax error.
func check(data []byte, t reflect.Type) error {
	if json.Valid(data) {
		s := scanner{data: data, strict: t != nil}
		return s.value(t)
	}
	return checkTokens(data, t)
}

// checkTokens walks data's tokens against t with encoding/json's Token.
func checkTokens(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := walker{dec: dec, strict: t != nil}
	if err := w.value(t, "$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Path: "$", Problem: "trailing data after the JSON value"}
	}
	return nil
}

type walker struct {
	dec    *json.Decoder
	strict bool
}

func (w *walker) value(t reflect.Type, path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return syntaxErr(path, err)
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		if tok == nil && w.strict && t != nil && !shapeOf(t).nullable {
			// encoding/json reads null as "leave the field as it is", so
			// a null string would pass as absent or empty.
			return &Error{Path: path, Problem: "null is not a value here (leave the key out)"}
		}
		return nil
	}
	s := shapeOf(t)
	switch d {
	case '{':
		return w.object(s, path)
	case '[':
		for i := 0; w.dec.More(); i++ {
			if err := w.value(s.elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return syntaxErr(path, err)
	}
	return &Error{Path: path, Problem: "unexpected " + string(d)}
}

func (w *walker) object(s shape, path string) error {
	seen := map[string]string{} // folded key → key as written
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return syntaxErr(path, err)
		}
		key, _ := tok.(string)
		f := fold(key)
		if prev, dup := seen[f]; dup {
			return keyTwice(path, prev, key)
		}
		seen[f] = key
		var next reflect.Type
		switch {
		case !w.strict || s.free:
			next = s.elem
		case s.fields != nil:
			ft, ok := s.fields[key]
			if !ok {
				return unknownKey(path, s, key, f)
			}
			next = ft
		default:
			return &Error{Path: path, Problem: "an object is not allowed here"}
		}
		if err := w.value(next, path+"."+pathKey(key)); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return syntaxErr(path, err)
}

// keyTwice is the error of key in an object that has prev already (the
// same key, or one differing only in case). Both walks word it so.
func keyTwice(path, prev, key string) error {
	if prev == key {
		return &Error{Path: path, Problem: fmt.Sprintf("key %s appears twice", quote(key))}
	}
	return &Error{Path: path, Problem: fmt.Sprintf("keys %s and %s differ only in case", quote(prev), quote(key))}
}

// unknownKey is the error of key (folded f), which no field of s names.
func unknownKey(path string, s shape, key, f string) error {
	if exact, near := s.folded[f]; near {
		return &Error{Path: path, Problem: fmt.Sprintf("unknown key %s (key names are case-sensitive: %s)", quote(key), quote(exact))}
	}
	return &Error{Path: path, Problem: fmt.Sprintf("unknown key %s (allowed: %s)", quote(key), strings.Join(s.names, ", "))}
}

// shape is what a Go type allows inside a JSON value.
type shape struct {
	nullable bool                    // null is a value (interface, custom unmarshaler)
	free     bool                    // any keys (map, interface, custom unmarshaler)
	elem     reflect.Type            // element of an array or map value type; nil: anything
	fields   map[string]reflect.Type // struct fields by exact JSON name
	folded   map[string]string       // folded name → exact name
	names    []string
}

var shapes sync.Map // reflect.Type → shape

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func shapeOf(t reflect.Type) shape {
	if t == nil {
		return shape{free: true}
	}
	if s, ok := shapes.Load(t); ok {
		return s.(shape)
	}
	s := makeShape(t)
	shapes.Store(t, s)
	return s
}

func makeShape(t reflect.Type) shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return shape{free: true, nullable: true}
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return shape{elem: t.Elem()}
	case reflect.Map:
		return shape{free: true, elem: t.Elem()}
	case reflect.Struct:
		s := shape{fields: map[string]reflect.Type{}, folded: map[string]string{}}
		addFields(&s, t)
		return s
	case reflect.Interface:
		return shape{free: true, nullable: true}
	}
	// A scalar type: an object or array here is a type error that
	// encoding/json reports; its keys are not checked.
	return shape{free: true}
}

// addFields adds t's JSON fields, promoting those of embedded structs as
// encoding/json does (a tagged or shallower field wins a name conflict;
// the rare remaining ambiguities make encoding/json ignore the name, and
// here the first one found is kept).
func addFields(s *shape, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				addFields(s, et)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := s.fields[name]; dup {
			continue
		}
		s.fields[name] = ft
		s.folded[fold(name)] = name
		s.names = append(s.names, name)
	}
}

// fold maps s to a string equal for every s' that bytes.EqualFold (and so
// encoding/json) treats as the same key.
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// quote shows a key, shortened: keys come from outside.
func quote(key string) string {
	if utf8.RuneCountInString(key) > 64 {
		key = string([]rune(key)[:64]) + "…"
	}
	return strconv.Quote(key)
}

func pathKey(key string) string {
	for _, r := range key {
		if !(r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return "[" + quote(key) + "]"
		}
	}
	if key == "" {
		return `[""]`
	}
	return quote(key)[1 : len(quote(key))-1]
}

// syntaxErr reports a malformed body without quoting it.
func syntaxErr(path string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Path: path, Problem: "unexpected end of JSON"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{Path: path, Problem: fmt.Sprintf("malformed JSON at byte %d", se.Offset)}
	}
	return &Error{Path: path, Problem: "malformed JSON"}
}
