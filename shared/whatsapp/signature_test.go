package whatsapp

import (
	"encoding/json"
	"strings"
	"testing"
)

// escapedBody is shaped like what Meta really sends: non-ASCII text as
// \uXXXX escapes and slashes escaped as \/. Re-serializing it changes the
// bytes, so only a check over the raw body can succeed.
const escapedBody = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"wamid.A","timestamp":"1","type":"text","text":{"body":"Ol\u00e1, S\u00e3o Paulo \ud83d\udc4d https:\/\/example.com\/a"}}]}}]}]}`

func TestVerifySignature(t *testing.T) {
	const secret = "app-secret"
	body := []byte(escapedBody)
	valid := Sign(secret, body)

	reserialized := func() []byte {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == string(body) {
			t.Fatal("re-serialized body is identical; the case would prove nothing")
		}
		return b
	}()

	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"valid", secret, body, valid, true},
		{"valid with surrounding spaces", secret, body, "  " + valid + " ", true},
		{"uppercase hex is the same digest", secret, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(valid, "sha256=")), true},
		{"wrong secret", "other-secret", body, valid, false},
		{"empty secret never verifies", "", body, Sign("", body), false},
		{"missing header", secret, body, "", false},
		{"no sha256= prefix", secret, body, strings.TrimPrefix(valid, "sha256="), false},
		{"sha1 prefix", secret, body, "sha1=" + strings.TrimPrefix(valid, "sha256="), false},
		{"uppercase prefix", secret, body, "SHA256=" + strings.TrimPrefix(valid, "sha256="), false},
		{"prefix only", secret, body, "sha256=", false},
		{"truncated", secret, body, valid[:len(valid)-2], false},
		{"odd length", secret, body, valid[:len(valid)-1], false},
		{"too long", secret, body, valid + "00", false},
		{"not hex", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"body re-serialized after parsing", secret, reserialized, valid, false},
		{"body one byte longer", secret, append(append([]byte{}, body...), ' '), valid, false},
		{"empty body signed", secret, nil, Sign(secret, nil), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifySignature(tt.secret, tt.body, tt.header); got != tt.want {
				t.Errorf("VerifySignature(%q, %d bytes, %q) = %v, want %v", tt.secret, len(tt.body), tt.header, got, tt.want)
			}
		})
	}
}

func TestSignKnownVector(t *testing.T) {
	// RFC 4231 test case 2 (HMAC-SHA-256): key "Jefe".
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func FuzzVerifySignature(f *testing.F) {
	f.Add("app-secret", []byte(escapedBody), "")
	f.Add("s", []byte("{}"), "sha256=00")
	f.Add("", []byte(""), "sha256=")
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		_ = VerifySignature(secret, body, header)
		if secret == "" {
			return
		}
		sig := Sign(secret, body)
		if !VerifySignature(secret, body, sig) {
			t.Fatalf("own signature %s does not verify", sig)
		}
		if header != sig && strings.TrimSpace(header) != sig && !strings.EqualFold(strings.TrimSpace(header), sig) && VerifySignature(secret, body, header) {
			t.Fatalf("header %q verified but differs from %s", header, sig)
		}
	})
}
