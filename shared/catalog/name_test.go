package catalog_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/catalog"
)

// TestTemplateNameRule holds the name rule, checked as a pattern and a
// length (cheaper to compile at every cold start), to Meta's
// `^[a-z0-9_]{1,512}$` at its bounds.
func TestTemplateNameRule(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	for _, name := range []string{"", "a", "order_shipped", "Order", "a-b", "a b", "a\n", "é",
		strings.Repeat("a", 511), strings.Repeat("a", 512), strings.Repeat("a", 513), strings.Repeat("a", 511) + "é"} {
		tpl := catalog.NewTemplate{Name: name, Language: "en_US", Category: "UTILITY",
			Components: []byte(`[{"type":"BODY","text":"Shipped."}]`)}
		got := !slices.ContainsFunc(tpl.Problems(), func(p string) bool { return strings.HasPrefix(p, "name ") })
		if want := re.MatchString(name); got != want {
			t.Errorf("name %q (%d bytes): accepted = %v, want %v", name, len(name), got, want)
		}
	}
}
