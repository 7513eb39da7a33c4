package suppression_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/identity"
	"github.com/tucanlink/wacloud/shared/suppression"
)

func TestMatch(t *testing.T) {
	custom := []string{"PARE", "Não quero mais"}
	tests := []struct {
		name     string
		text     string
		keywords []string
		want     string // "" for no match
	}{
		{"default upper case", "STOP", nil, "STOP"},
		{"default lower case, spaces around", "  stop \n", nil, "STOP"},
		{"punctuation around", "Stop!", nil, "STOP"},
		{"Spanish", "baja", nil, "BAJA"},
		{"Spanish with an accent where none belongs", "bajá", nil, "BAJA"},
		{"Spanish phrase, inner spaces collapsed", "dar  de\tbaja.", nil, "DAR DE BAJA"},
		{"Portuguese", "Sair", nil, "SAIR"},
		{"emoji around", "🛑 STOP 🛑", nil, "STOP"},
		{"not the whole message", "please stop", nil, ""},
		{"a word containing a keyword", "stopped", nil, ""},
		{"cancel is not a default", "cancelar", nil, ""},
		{"empty", "", nil, ""},
		{"only punctuation", "!!!", nil, ""},
		{"configured keyword with accent, written without", "nao quero mais", custom, "Não quero mais"},
		{"configured keyword", "pare", custom, "PARE"},
		{"configured keywords replace the defaults", "STOP", custom, ""},
		{"long text", "stop " + string(make([]byte, 300)), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := suppression.Match(tt.text, tt.keywords)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Match(%q, %q) = %q, %v; want %q", tt.text, tt.keywords, got, ok, tt.want)
			}
		})
	}
}

func TestDefaultReply(t *testing.T) {
	tests := []struct{ keyword, wantPrefix string }{
		{"STOP", "You will"}, {"BAJA", "No recibirás"}, {"SAIR", "Você não"}, {"PARE", "You will"},
	}
	for _, tt := range tests {
		t.Run(tt.keyword, func(t *testing.T) {
			if got := suppression.DefaultReply(tt.keyword); len(got) < len(tt.wantPrefix) || got[:len(tt.wantPrefix)] != tt.wantPrefix {
				t.Errorf("DefaultReply(%q) = %q, want it to start %q", tt.keyword, got, tt.wantPrefix)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name, contact, want string // want "" for refused
	}{
		{"wa_id", "16315551181", "16315551181"},
		{"E.164 with +", "+16315551181", "16315551181"},
		{"written with spaces and dashes", "+1 (631) 555-1181", "16315551181"},
		{"Brazilian mobile with the ninth digit", "+55 11 99999-8888", "551199998888"},
		{"Brazilian mobile as Meta's wa_id", "551199998888", "551199998888"},
		{"Brazilian landline", "551133334444", "551133334444"},
		{"Mexican mobile as Meta's wa_id", "5215512345678", "525512345678"},
		{"Mexican mobile as dialled", "+52 55 1234 5678", "525512345678"},
		{"business-scoped user id", "US.13491208655302741918", "US.13491208655302741918"},
		{"too short", "12345", ""},
		{"letters", "call me", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := suppression.Key(tt.contact)
			if tt.want == "" {
				if err == nil {
					t.Errorf("Key(%q) = %q, want it refused", tt.contact, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Key(%q) = %q, %v; want %q", tt.contact, got, err, tt.want)
			}
		})
	}
}

// TestKeyFoldsIdentityVariants: every form identity.Variants says a wa_id
// may take is one entry of the list.
func TestKeyFoldsIdentityVariants(t *testing.T) {
	for _, n := range []string{"5511999998888", "551199998888", "5521987654321", "5215512345678", "525512345678", "16315551181"} {
		want, err := suppression.Key(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range identity.Variants(n) {
			if got, err := suppression.Key(v); err != nil || got != want {
				t.Errorf("Key(%q) = %q, %v; want %q, the key of its variant %q", v, got, err, want, n)
			}
		}
	}
}

func TestCheckKeywords(t *testing.T) {
	long := strings.Repeat("a", suppression.MaxKeywordChars+1)
	many := make([]string, suppression.MaxKeywords+1)
	for i := range many {
		many[i] = fmt.Sprintf("word%d", i)
	}
	tests := []struct {
		name     string
		keywords []string
		want     []string // substrings, one per problem
	}{
		{"defaults", nil, nil},
		{"configured", []string{"PARE", "Não quero mais", "STOP"}, nil},
		{"empty list", []string{}, []string{"1 to 50"}},
		{"too many", many, []string{"1 to 50"}},
		{"too long", []string{"STOP", long}, []string{"keywords[1] is 65 characters"}},
		{"no letter or digit", []string{"🛑", "!!!"}, []string{"keywords[0]", "keywords[1]"}},
		{"blank", []string{"  "}, []string{"keywords[0]"}},
		{"the same once folded", []string{"Baja", "bajá!", "BAJA"}, []string{"keywords[1] \"bajá!\" is keywords[0]", "keywords[2] \"BAJA\" is keywords[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := suppression.CheckKeywords(tt.keywords)
			if len(got) != len(tt.want) {
				t.Fatalf("CheckKeywords(%q) = %q, want %d problem(s)", tt.keywords, got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}

func TestCheckReply(t *testing.T) {
	tests := []struct {
		name, reply string
		wantOK      bool
	}{
		{"default", "", true},
		{"a text", "Pronto, você saiu da lista.", true},
		{"as long as allowed", strings.Repeat("é", suppression.MaxReplyChars), true},
		{"only spaces", " \n\t", false},
		{"too long", strings.Repeat("é", suppression.MaxReplyChars+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := suppression.CheckReply(tt.reply); (len(got) == 0) != tt.wantOK {
				t.Errorf("CheckReply(%d chars) = %q, want ok %v", len([]rune(tt.reply)), got, tt.wantOK)
			}
		})
	}
}
