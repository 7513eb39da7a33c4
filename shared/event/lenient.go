package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Lenient scalars. Meta's payloads, and its partners' samples, are not
// always typed exactly: quantities and prices arrive as "1" or "30.5",
// flags as "true", ids as numbers. Where the meaning is unambiguous the
// value is read; what cannot be understood ("abc" as a quantity, 1.5 items,
// an object where a number belongs) still fails, so the unit is
// dead-lettered with the reason instead of reaching the core wrong. The
// message's raw JSON always keeps what Meta sent.

// flexInt accepts a JSON integer, or a string holding one, or a JSON
// number with no fractional part (2.0, as some serializers write integers).
// A string with a decimal point ("210.00") is refused: as an amount in
// minor units it most likely means something else.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s, ok, err := scalarText(b)
	if err != nil || !ok {
		return err
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		return fmt.Errorf("want an integer, got %s", b)
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
		return fmt.Errorf("want an integer, got %s", b)
	}
	*f = flexInt(x)
	return nil
}

// flexFloat accepts a JSON number, or a string holding a finite one.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s, ok, err := scalarText(b)
	if err != nil || !ok {
		return err
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return fmt.Errorf("want a number, got %s", b)
	}
	*f = flexFloat(x)
	return nil
}

// flexBool accepts true/false, or the strings "true"/"false" (any case),
// or the numbers or strings 1/0.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s, ok, err := scalarText(b)
	if err != nil || !ok {
		return err
	}
	switch strings.ToLower(s) {
	case "true", "1":
		*f = true
	case "false", "0":
		*f = false
	default:
		return fmt.Errorf("want a boolean, got %s", b)
	}
	return nil
}

// scalarText returns a JSON scalar's text: the string's content, or the
// literal of a number or boolean. ok is false for null (and a blank
// string), which leaves the field unset.
func scalarText(b []byte) (s string, ok bool, err error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return "", false, nil
	case b[0] == '"':
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		s = strings.TrimSpace(s)
		return s, s != "", nil
	case b[0] == '{' || b[0] == '[':
		return "", false, fmt.Errorf("want a scalar, got %.40s", b)
	}
	return string(b), true, nil
}
