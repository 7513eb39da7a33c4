package strictjson

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scanner is check's walk over JSON that json.Valid accepted: the same
// rules as walker, without encoding/json's Token (which allocates for
// every token) and with the path built only for an error. A body that is
// not valid JSON goes to walker instead, which words its syntax error.
type scanner struct {
	data   []byte
	i      int
	strict bool
	path   []segment // where the scan is, below "$"
	seen   []seenKey // the keys of the objects being scanned, innermost last
}

// segment is one step of a path: an object key or an array index.
type segment struct {
	key   string
	index int
	isKey bool
}

type seenKey struct{ folded, key string }

// pathString renders s.path as walker does: $, then .key (.["odd key"])
// or [i] per step.
func (s *scanner) pathString() string {
	var b strings.Builder
	b.WriteString("$")
	for _, p := range s.path {
		if p.isKey {
			b.WriteString("." + pathKey(p.key))
			continue
		}
		b.WriteString("[" + strconv.Itoa(p.index) + "]")
	}
	return b.String()
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value(t reflect.Type) error {
	s.space()
	switch c := s.data[s.i]; c {
	case '{':
		s.i++
		return s.object(shapeOf(t))
	case '[':
		s.i++
		elem := shapeOf(t).elem
		s.space()
		if s.data[s.i] == ']' {
			s.i++
			return nil
		}
		for n := 0; ; n++ {
			s.path = append(s.path, segment{index: n})
			if err := s.value(elem); err != nil {
				return err
			}
			s.path = s.path[:len(s.path)-1]
			s.space()
			if s.data[s.i] == ']' {
				s.i++
				return nil
			}
			s.i++ // ','
		}
	case '"':
		s.skipString()
	case 'n':
		s.i += len("null")
		if s.strict && t != nil && !shapeOf(t).nullable {
			return &Error{Path: s.pathString(), Problem: "null is not a value here (leave the key out)"}
		}
	case 't':
		s.i += len("true")
	case 'f':
		s.i += len("false")
	default: // a number
		for s.i < len(s.data) && strings.IndexByte("+-0123456789.eE", s.data[s.i]) >= 0 {
			s.i++
		}
	}
	return nil
}

// skipString moves past the string at s.i and returns its raw bytes
// (quotes excluded) and whether it holds an escape.
func (s *scanner) skipString() (raw []byte, escaped bool) {
	s.i++ // '"'
	start := s.i
	for {
		switch s.data[s.i] {
		case '\\':
			escaped = true
			s.i += 2
		case '"':
			raw = s.data[start:s.i]
			s.i++
			return raw, escaped
		default:
			s.i++
		}
	}
}

func (s *scanner) key() string {
	start := s.i
	raw, escaped := s.skipString()
	if !escaped && utf8.Valid(raw) {
		return string(raw)
	}
	// Escapes, or bytes encoding/json replaces: decode as it does.
	var k string
	_ = json.Unmarshal(s.data[start:s.i], &k)
	return k
}

func (s *scanner) object(sh shape) error {
	mark := len(s.seen)
	defer func() { s.seen = s.seen[:mark] }()
	s.space()
	if s.data[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.space()
		key := s.key()
		f := foldKey(key)
		for _, p := range s.seen[mark:] {
			if p.folded == f {
				return keyTwice(s.pathString(), p.key, key)
			}
		}
		s.seen = append(s.seen, seenKey{f, key})
		var next reflect.Type
		switch {
		case !s.strict || sh.free:
			next = sh.elem
		case sh.fields != nil:
			ft, ok := sh.fields[key]
			if !ok {
				return unknownKey(s.pathString(), sh, key, f)
			}
			next = ft
		default:
			return &Error{Path: s.pathString(), Problem: "an object is not allowed here"}
		}
		s.space()
		s.i++ // ':'
		s.path = append(s.path, segment{key: key, isKey: true})
		if err := s.value(next); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.data[s.i] == '}' {
			s.i++
			return nil
		}
		s.i++ // ','
	}
}

// foldKey is fold without its allocations for a key of ASCII letters,
// digits and punctuation (the usual case): there the fold is the upper
// case, as unicode.SimpleFold orbits go ('k' and the Kelvin sign fold to
// 'K', 's' and the long s to 'S').
func foldKey(k string) string {
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return fold(k)
		}
	}
	for i := 0; i < len(k); i++ {
		if 'a' <= k[i] && k[i] <= 'z' {
			return strings.ToUpper(k)
		}
	}
	return k
}
