package suppression

import (
	"strings"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// Key returns the list's key of a contact: a business-scoped user id as
// Meta writes it, or a phone number as its digits (a leading + and the
// spaces, dashes, dots and parentheses people write are dropped) in one
// canonical form for the numbers whose wa_id differs from the number: a
// Brazilian mobile number without the ninth digit (55 AA XXXXXXXX), a
// Mexican mobile number without the 1 after 52. Anything else is refused
// (Invalid).
func Key(contact string) (string, error) {
	c := strings.TrimSpace(contact)
	if outbound.IsBSUID(c) {
		return c, nil
	}
	d := strings.Map(func(r rune) rune {
		switch r {
		case '+', ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, c)
	if len(d) < 8 || len(d) > 15 || d[0] == '0' || !allDigits(d) {
		return "", fault.Invalidf("contact %q is neither a phone number (8 to 15 digits) nor a business-scoped user id", contact)
	}
	switch {
	case len(d) == 13 && strings.HasPrefix(d, "55") && d[2] != '0' && d[3] != '0' && d[4] == '9' && d[5] >= '6':
		return d[:4] + d[5:], nil
	case len(d) == 13 && strings.HasPrefix(d, "521"):
		return "52" + d[3:], nil
	}
	return d, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
