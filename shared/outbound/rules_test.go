package outbound

import (
	"regexp"
	"strings"
	"testing"
)

// TestRulesFollowTheirPatterns holds the checks that split a bounded
// repetition into a pattern and a length (cheaper to compile at every
// cold start) to the patterns they replace, on the inputs where they
// could differ: each bound, one past it, the optional "ENT.", non-ASCII,
// a trailing newline.
func TestRulesFollowTheirPatterns(t *testing.T) {
	id128 := strings.Repeat("a1", 64)
	tests := []struct {
		name    string
		check   func(string) bool
		pattern string
		inputs  []string
	}{
		{"tenant id", validTenantID, tenantIDPattern, []string{
			"", "a", "demo", "acme-01", "a.b_c-d", "-a", ".a", "a:b", "a/b", "á", "a\n",
			strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("a", 63) + "é",
		}},
		{"BSUID", IsBSUID, `^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$`, []string{
			"", "US", "US.", "US.a", "US.ENT.", "US.ENT.a", "US.ENTa", "US.ENT.ENT.a", "US.ENT.ENT", "us.a", "USA.a", "U.a", "US.a.b",
			"US.a\n", "US.é", "BR.13491208655302741918",
			"US." + id128, "US." + id128 + "a", "US.ENT." + id128, "US.ENT." + id128 + "a", "US.ENT" + id128[:122], "US.ENT" + id128[:123],
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
