package suppression

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// DefaultKeywords are the stop keywords of a tenant that configured none:
// the words people write to leave a list in English, Spanish and
// Portuguese. Words that also mean something else in a support chat
// (cancel, cancelar, end, fim, quit, alto) are left out on purpose: a
// customer writing "cancelar" about an order must not be unsubscribed.
var DefaultKeywords = []string{
	"STOP", "STOP ALL", "STOPALL", "UNSUBSCRIBE", "OPT OUT", "OPTOUT",
	"BAJA", "DAR DE BAJA", "DARME DE BAJA",
	"SAIR", "PARAR", "DESCADASTRAR",
}

// MaxKeywords and MaxKeywordChars bound a tenant's configured keywords.
const (
	MaxKeywords     = 50
	MaxKeywordChars = 64
	// MaxReplyChars bounds the confirmation reply (a text message body
	// takes 4096).
	MaxReplyChars = 1024
)

// Default confirmation replies, by the language of the default keyword
// that matched; English for the rest.
var defaultReplies = map[string]string{
	"en": "You will no longer receive promotional messages from us. You can still write to us here at any time.",
	"es": "No recibirás más mensajes promocionales de nuestra parte. Puedes seguir escribiéndonos aquí cuando quieras.",
	"pt": "Você não receberá mais mensagens promocionais nossas. Pode continuar nos escrevendo aqui quando quiser.",
}

var keywordLanguage = map[string]string{
	"baja": "es", "dar de baja": "es", "darme de baja": "es",
	"sair": "pt", "parar": "pt", "descadastrar": "pt",
}

// DefaultReply is the confirmation sent when a tenant configured no reply:
// in the language of the keyword the contact wrote (English, Spanish or
// Portuguese as the default keywords go; English otherwise).
func DefaultReply(keyword string) string {
	if lang, ok := keywordLanguage[Fold(keyword)]; ok {
		return defaultReplies[lang]
	}
	return defaultReplies["en"]
}

// Match reports whether text, as a whole, is one of keywords (the
// defaults when keywords is empty), and which. Both sides are compared
// Folded: "  Stop! ", "stop" and "STOP" match STOP; "Baja." and "bajá"
// match BAJA; "please stop" does not.
func Match(text string, keywords []string) (string, bool) {
	if len(keywords) == 0 {
		keywords = DefaultKeywords
	}
	// A long text is a conversation, not a keyword: no folding needed.
	if len(text) > 4*MaxKeywordChars {
		return "", false
	}
	t := Fold(text)
	if t == "" {
		return "", false
	}
	for _, k := range keywords {
		if Fold(k) == t {
			return k, true
		}
	}
	return "", false
}

// Fold is the form texts and keywords are compared in: accents removed,
// lower case, the words separated by one space, punctuation and symbols
// around them dropped.
func Fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	words := strings.FieldsFunc(b.String(), func(r rune) bool { return unicode.IsSpace(r) })
	out := words[:0]
	for _, w := range words {
		w = strings.TrimFunc(w, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
		if w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}
