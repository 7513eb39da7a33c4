package tenant_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/tenant"
)

func TestParseMetaApp(t *testing.T) {
	tests := []struct {
		name       string
		value      string
		configured bool
		malformed  bool
	}{
		{"set", `{"app_id":"1234567890123456","app_secret":"s3cr3t"}`, true, false},
		{"not filled in yet", `{"app_id":"","app_secret":""}`, false, false},
		{"id without secret", `{"app_id":"1234567890123456","app_secret":""}`, false, true},
		{"secret without id", `{"app_secret":"s3cr3t"}`, false, true},
		{"unknown key", `{"app_id":"1","app_secret":"s3cr3t","access_token":"EAA"}`, false, true},
		{"not JSON", `s3cr3t`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := tenant.ParseMetaApp(tt.value)
			if tt.malformed {
				if !errors.Is(err, tenant.ErrMalformed) || strings.Contains(err.Error(), "s3cr3t") {
					t.Fatalf("err = %v, want ErrMalformed without the secret", err)
				}
				return
			}
			if err != nil || app.Configured() != tt.configured {
				t.Fatalf("app configured %v err %v, want %v", app.Configured(), err, tt.configured)
			}
			if s := fmt.Sprintf("%v %+v %#v %s", app, app, app, app); strings.Contains(s, "s3cr3t") {
				t.Errorf("formatting shows the secret: %s", s)
			}
		})
	}
}
