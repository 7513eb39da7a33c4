package logging

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

// Personal data: a contact's phone number and what people write are kept
// out of logs and of SQS message attributes (a dead-letter reason is one).
// Ids the operator needs (tenant, phone_number_id, wamid, job_id) are not
// personal data and stay as they are.
//
// Three layers, so that a new log line or error cannot leak by accident:
//   - Redact (the handler every function logs through) masks the values of
//     attributes whose key names a contact's number (PhoneKey) or message
//     text (TextKey), and any number written in E.164 with its "+" in any
//     string;
//   - MaskValues masks known values (a record's numbers and texts, found
//     by PIIValues) inside a string, for errors that quote them;
//   - code does not log them in the first place.

// MaskPhone shows enough of a phone number or WhatsApp id to tell two
// apart in a log, not enough to call it: the country and area code and the
// last two digits, "+5511999990021" → "+55119…21". Anything else is
// masked whole.
func MaskPhone(s string) string {
	d, plus := strings.CutPrefix(s, "+")
	if len(d) < 8 || strings.Trim(d, "0123456789") != "" {
		return Masked
	}
	keep := 5
	if len(d) < 10 {
		keep = 3
	}
	p := ""
	if plus {
		p = "+"
	}
	return p + d[:keep] + "…" + d[len(d)-2:]
}

// phoneKeys name attributes holding a contact's number or id.
var phoneKeys = map[string]bool{"to": true, "from": true, "wa_id": true, "recipient": true, "recipient_id": true,
	"contact": true, "contact_wa_id": true, "msisdn": true, "phone": true, "user_id": true, "input": true}

// textKeys name attributes holding what a person wrote.
var textKeys = map[string]bool{"body": true, "text": true, "caption": true, "message_text": true, "emoji": true}

// nameKeys name a person's name in a body (a contact's profile, a contact
// card); PIIValues takes them, log keys named so are left alone.
var nameKeys = map[string]bool{"name": true, "formatted_name": true, "first_name": true, "last_name": true, "username": true}

// PhoneKey reports whether an attribute or JSON key holds a contact's
// number (to, from, wa_id, recipient_id, ...). display_phone_number, the
// business's own number, is not one.
func PhoneKey(key string) bool { return phoneKeys[strings.ToLower(key)] }

// TextKey reports whether an attribute or JSON key holds message text.
func TextKey(key string) bool { return textKeys[strings.ToLower(key)] }

// e164 is a number written with its "+": unambiguous enough to mask
// wherever it appears.
var e164 = regexp.MustCompile(`\+[1-9][0-9]{7,14}`)

// MaskNumbers masks every +E.164 number in s.
func MaskNumbers(s string) string {
	if !strings.Contains(s, "+") {
		return s
	}
	return e164.ReplaceAllStringFunc(s, MaskPhone)
}

// PIIValues returns the personal values of a JSON document (an SQS body: a
// job, a webhook unit, an event): the strings under phone, text and name
// keys at any depth, each number also without its "+", longest first. Values
// shorter than 4 characters are left out (masking "ok" everywhere would
// hide more than it protects). A body that is not JSON yields nothing.
func PIIValues(body string) []string {
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return nil
	}
	seen := map[string]bool{}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, sub := range x {
				walk(k, sub)
			}
		case []any:
			for _, sub := range x {
				walk(key, sub)
			}
		case string:
			if (PhoneKey(key) || TextKey(key) || nameKeys[key]) && len(x) >= 4 {
				seen[x] = true
				if d, ok := strings.CutPrefix(x, "+"); ok && len(d) >= 4 {
					seen[d] = true
				}
			}
		}
	}
	walk("", v)
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		return len(out[i]) > len(out[j]) || (len(out[i]) == len(out[j]) && out[i] < out[j])
	})
	return out
}

// MaskValues replaces each of values found in s: numbers by MaskPhone,
// anything else by Masked. Then MaskNumbers.
func MaskValues(s string, values []string) string {
	for _, v := range values {
		if v == "" || !strings.Contains(s, v) {
			continue
		}
		m := Masked
		if MaskPhone(v) != Masked {
			m = MaskPhone(v)
		}
		s = strings.ReplaceAll(s, v, m)
	}
	return MaskNumbers(s)
}
