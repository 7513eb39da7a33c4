package connector

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseTenants(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(file, []byte(`[{"tenant_id":"f","phone_number_id":"3","waba_id":"4"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    []Tenant
		wantErr bool
	}{
		{name: "empty", in: "  ", want: nil},
		{name: "platform tenant gets the platform app's secrets", in: `[{"tenant_id":"acme","phone_number_id":"100000000000002","waba_id":"2"}]`,
			want: []Tenant{{ID: "acme", Name: "acme", PhoneNumberID: "100000000000002", WABAID: "2", DisplayPhoneNumber: "15550000002",
				AccessToken: "local-access-token-acme", AppSecret: PlatformAppSecret, VerifyToken: PlatformVerify}}},
		{name: "own app keeps its secrets", in: `[{"tenant_id":"own","phone_number_id":"1","waba_id":"2","own_app":true,"app_secret":"s"}]`,
			want: []Tenant{{ID: "own", Name: "own", PhoneNumberID: "1", WABAID: "2", DisplayPhoneNumber: "15550001",
				AccessToken: "local-access-token-own", AppSecret: "s", VerifyToken: "local-verify-token-own", OwnApp: true}}},
		{name: "from a file", in: "@" + file,
			want: []Tenant{{ID: "f", Name: "f", PhoneNumberID: "3", WABAID: "4", DisplayPhoneNumber: "15550003",
				AccessToken: "local-access-token-f", AppSecret: PlatformAppSecret, VerifyToken: PlatformVerify}}},
		{name: "missing waba", in: `[{"tenant_id":"x","phone_number_id":"1"}]`, wantErr: true},
		{name: "not an array", in: `{"tenant_id":"x"}`, wantErr: true},
		{name: "missing file", in: "@/nonexistent/tenants.json", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTenants(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseTenants(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d tenants, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("tenant %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
