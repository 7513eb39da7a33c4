package tenant_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// TestRulesFollowTheirPatterns holds the checks that split a bounded
// repetition into a pattern and a length (cheaper to compile at every
// cold start) to the patterns they replace, on the inputs where they
// could differ: each bound, one past it, non-ASCII, a trailing newline.
func TestRulesFollowTheirPatterns(t *testing.T) {
	tests := []struct {
		name    string
		check   func(string) bool
		pattern string
		inputs  []string
	}{
		{"tenant id", tenant.ValidID, tenant.IDPattern, []string{
			"", "a", "demo", "acme-01", "a.b_c-d", "-a", ".a", "_a", "a:b", "a#b", "a/b", "á", "aé", "a\n", "A",
			strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65), "a" + strings.Repeat(".", 63), "a" + strings.Repeat(".", 64),
			strings.Repeat("a", 62) + "é",
		}},
		{"secret key name", tenant.KeyName, `^[a-z][a-z0-9_]{0,39}$`, []string{
			"", "a", "access_token", "app_secret", "A", "1a", "_a", "a-b", "a\n", "é",
			strings.Repeat("k", 39), strings.Repeat("k", 40), strings.Repeat("k", 41), strings.Repeat("k", 38) + "é",
		}},
	}
	for _, tt := range tests {
		re := regexp.MustCompile(tt.pattern)
		for _, in := range tt.inputs {
			if got, want := tt.check(in), re.MatchString(in); got != want {
				t.Errorf("%s %q (%d bytes): got %v, want %v (%s)", tt.name, in, len(in), got, want, tt.pattern)
			}
		}
	}
}
