package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Link string `json:"link,omitempty"`
}

type embedded struct {
	Extra string `json:"extra"`
}

type doc struct {
	embedded
	To     string         `json:"to"`
	Items  []inner        `json:"items"`
	Ptr    *inner         `json:"ptr"`
	Free   map[string]any `json:"free"`
	Any    any            `json:"any"`
	When   time.Time      `json:"when"`
	Raw    json.RawMessage
	hidden string
}

func TestUnmarshal(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string // substring; "" means accepted
	}{
		{"exact keys", `{"to":"+1","items":[{"link":"x"}],"ptr":{"link":"y"},"extra":"e","Raw":{"a":1}}`, ""},
		{"free map and any", `{"free":{"Anything":1,"nested":{"x":[1]}},"any":{"k":{"K2":2}}}`, ""},
		{"custom unmarshaler", `{"when":"2026-01-01T00:00:00Z"}`, ""},
		{"case variant of a field", `{"To":"+1"}`, `$: unknown key "To" (key names are case-sensitive: "to")`},
		{"case-insensitive duplicate", `{"to":"+1","To":"+2"}`, `$: keys "to" and "To" differ only in case`},
		{"exact duplicate", `{"to":"+1","to":"+2"}`, `$: key "to" appears twice`},
		{"unknown key at depth", `{"items":[{"link":"x"},{"link":"y","image":{"link":"s3://b/k"}}]}`, `$.items[1]: unknown key "image"`},
		{"unknown key in pointer", `{"ptr":{"LINK":"y"}}`, `$.ptr: unknown key "LINK" (key names are case-sensitive: "link")`},
		{"unexported field is unknown", `{"hidden":"x"}`, `unknown key "hidden"`},
		{"duplicate inside a free map", `{"free":{"a":1,"A":2}}`, `$.free: keys "a" and "A" differ only in case`},
		{"duplicate inside any", `{"any":[{"k":1,"k":2}]}`, `$.any[0]: key "k" appears twice`},
		{"trailing data", `{"to":"+1"} {"to":"+2"}`, "trailing data"},
		{"truncated", `{"to":"+1"`, "unexpected end of JSON"},
		{"type error still reported", `{"to":5}`, "cannot unmarshal number"},
		{"null string", `{"to":null}`, `$.to: null is not a value here`},
		{"null pointer", `{"ptr":null}`, `$.ptr: null is not a value here`},
		{"null slice item", `{"items":[null]}`, `$.items[0]: null is not a value here`},
		{"null in any", `{"any":null,"free":{"a":null}}`, ""},
		{"null for a custom unmarshaler", `{"Raw":null}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := Unmarshal([]byte(tt.in), &d)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Unmarshal(%s) = %v, want nil", tt.in, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Unmarshal(%s) = %v, want %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestUnmarshalKeepsValuesOutOfErrors(t *testing.T) {
	var d doc
	err := Unmarshal([]byte(`{"to":"+5511999990001","To":"+5511999990002"}`), &d)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if strings.Contains(err.Error(), "5511") {
		t.Errorf("error quotes a value: %v", err)
	}
}

func TestUniqueKeys(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string
	}{
		{"unknown keys are fine", `{"object":"x","entry":[{"new_field":{"a":1}}]}`, ""},
		{"case variants deep", `{"entry":[{"changes":[{"value":{"from":"1","From":"2"}}]}]}`, `$.entry[0].changes[0].value: keys "from" and "From" differ only in case`},
		{"exact duplicate", `{"a":1,"a":1}`, `key "a" appears twice`},
		{"Kelvin sign folds like k", "{\"k\":1,\"\u212a\":2}", "differ only in case"},
		{"same key in sibling objects", `[{"a":1},{"a":2}]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := UniqueKeys([]byte(tt.in))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("UniqueKeys(%s) = %v, want nil", tt.in, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("UniqueKeys(%s) = %v, want %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

// TestEncodingJSONIsLenient documents why the package exists: it fails if
// encoding/json ever stops matching keys case-insensitively.
func TestEncodingJSONIsLenient(t *testing.T) {
	var d doc
	if err := json.Unmarshal([]byte(`{"to":"+1","To":"+2"}`), &d); err != nil || d.To != "+2" {
		t.Errorf("encoding/json: To = %q, %v; want the later case variant to win", d.To, err)
	}
}

func ExampleUnmarshal() {
	var job struct {
		To string `json:"to"`
	}
	err := Unmarshal([]byte(`{"to":"+5511999990001","To":"+5511999990002"}`), &job)
	fmt.Println(err)
	// Output: $: keys "to" and "To" differ only in case
}
