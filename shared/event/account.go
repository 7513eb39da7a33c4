package event

import "encoding/json"

// AccountChange is a WABA-level event Meta reported (templates, quality,
// account updates). Field is the webhook field it came in.
type AccountChange struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}
