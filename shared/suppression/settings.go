package suppression

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckKeywords lists what keeps keywords from being a tenant's stop
// keywords, one problem per broken rule (nil: none). nil keywords are the
// defaults and always pass; a list must have 1 to MaxKeywords keywords of
// at most MaxKeywordChars characters, each with a letter or digit (one
// that Folds to nothing could never match) and none the same as another
// once Folded (they would be one keyword).
func CheckKeywords(keywords []string) []string {
	if keywords == nil {
		return nil
	}
	var problems []string
	if len(keywords) == 0 || len(keywords) > MaxKeywords {
		problems = append(problems, fmt.Sprintf("keywords must list 1 to %d keywords, or be null for the defaults", MaxKeywords))
	}
	seen := map[string]int{}
	for i, k := range keywords {
		if n := utf8.RuneCountInString(k); n > MaxKeywordChars {
			problems = append(problems, fmt.Sprintf("keywords[%d] is %d characters, over %d", i, n, MaxKeywordChars))
			continue
		}
		f := Fold(k)
		if f == "" {
			problems = append(problems, fmt.Sprintf("keywords[%d] %q has no letter or digit: no message could match it", i, k))
			continue
		}
		if j, ok := seen[f]; ok {
			problems = append(problems, fmt.Sprintf("keywords[%d] %q is keywords[%d] again (case, accents and surrounding punctuation are ignored)", i, k, j))
			continue
		}
		seen[f] = i
	}
	return problems
}

// CheckReply lists what keeps reply from being a tenant's confirmation
// reply (nil: none): "" is the default and passes; else it must have
// something besides spaces and at most MaxReplyChars characters.
func CheckReply(reply string) []string {
	if reply == "" {
		return nil
	}
	if strings.TrimSpace(reply) == "" {
		return []string{"reply is only spaces: give a text, or null for the default reply"}
	}
	if n := utf8.RuneCountInString(reply); n > MaxReplyChars {
		return []string{fmt.Sprintf("reply is %d characters, over %d", n, MaxReplyChars)}
	}
	return nil
}
