package logging_test

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/logging"
)

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+5511999990021", "+55119…21"},
		{"5511999990021", "55119…21"},
		{"+16505551234", "+16505…34"},
		{"12345678", "123…78"},
		{"1234567", logging.Masked},
		{"+55 11 99999-0021", logging.Masked},
		{"ana.souza", logging.Masked},
		{"", logging.Masked},
	}
	for _, tt := range tests {
		if got := logging.MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRedactPersonalData logs a contact's number and a message's text the
// ways code could, and checks that neither reaches the output while the
// ids an operator needs do.
func TestRedactPersonalData(t *testing.T) {
	const number, digits, text = "+5511987650021", "5511987650021", "meu cartão é 4111"
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"number under to", func(l *slog.Logger) { l.Info("sent", "to", number) }},
		{"digits under wa_id", func(l *slog.Logger) { l.Info("sent", "wa_id", digits) }},
		{"digits under from in a group", func(l *slog.Logger) { l.Info("got", slog.Group("message", "from", digits, "body", text)) }},
		{"text under body", func(l *slog.Logger) { l.Warn("x", "body", text) }},
		{"number inside an error", func(l *slog.Logger) { l.Error("failed", "error", errors.New(`to "`+number+`" is not valid`)) }},
		{"number inside the message", func(l *slog.Logger) { l.Info("sending to " + number) }},
		{"attribute added with With", func(l *slog.Logger) { l.With("recipient_id", digits).Info("x") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := logging.NewWriter(&buf, "sender", slog.LevelInfo).With("phone_number_id", "100000000000001", "display_phone_number", "15550001234")
			tt.log(l)
			out := buf.String()
			for _, leak := range []string{digits, "cartão"} {
				if strings.Contains(out, leak) {
					t.Errorf("log line carries %q: %s", leak, out)
				}
			}
			if !strings.Contains(out, "100000000000001") || !strings.Contains(out, "15550001234") {
				t.Errorf("ids were masked too: %s", out)
			}
		})
	}
}

func TestPIIValues(t *testing.T) {
	body := `{"job_id":"j-1","to":"+5511987650021","type":"text","text":{"body":"segredo do cliente"},
		"contacts":[{"wa_id":"5511987650022","profile":{"name":"Ana"}}],"phone_number_id":"100000000000001","emoji":"👍"}`
	got := logging.PIIValues(body)
	for _, want := range []string{"+5511987650021", "5511987650021", "segredo do cliente", "5511987650022"} {
		if !slices.Contains(got, want) {
			t.Errorf("PIIValues misses %q: %q", want, got)
		}
	}
	for _, not := range []string{"j-1", "100000000000001", "text"} {
		if slices.Contains(got, not) {
			t.Errorf("PIIValues takes %q, which is not personal: %q", not, got)
		}
	}
	reason := `invalid outbound job: to "5511987650021" is not E.164; text.body "segredo do cliente" ...; phone number 100000000000001`
	masked := logging.MaskValues(reason, got)
	if strings.Contains(masked, "5511987650021") || strings.Contains(masked, "segredo") || !strings.Contains(masked, "100000000000001") {
		t.Errorf("MaskValues = %q", masked)
	}
	if logging.PIIValues("not json") != nil {
		t.Error("PIIValues of a non-JSON body")
	}
}
