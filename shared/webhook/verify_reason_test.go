package webhook

import "testing"

func TestVerifyRefusal(t *testing.T) {
	tests := []struct {
		name, mode, token, want string
		reason                  string
	}{
		{"match", "subscribe", "vt", "vt", ""},
		{"wrong mode", "unsubscribe", "vt", "vt", "hub.mode is not subscribe"},
		{"no token set", "subscribe", "vt", "", "no verify token is set for this route"},
		{"no token given", "subscribe", "", "vt", "no hub.verify_token given"},
		{"mismatch", "subscribe", "other", "vt", "hub.verify_token does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verifyRefusal(tt.mode, tt.token, tt.want); got != tt.reason {
				t.Errorf("verifyRefusal = %q, want %q", got, tt.reason)
			}
		})
	}
}
