package sender

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// TestNoPersonalDataInLogsOrAttributes sends jobs down every path (sent,
// refused by validation with the recipient quoted, window closed, refused
// by Meta) and checks that no log line and no dead-letter attribute holds
// a recipient's number or a message's text.
func TestNoPersonalDataInLogsOrAttributes(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	var logs bytes.Buffer
	h.Log = logging.NewWriter(&logs, "sender", slog.LevelDebug)
	h.Consumer.Log = nil
	const text = "segredo do cliente 4111"
	sent, closed, refused := rcpt(t, "+5511987650041"), rcpt(t, "+5511987650042"), rcpt(t, "+5511987650043")
	e.openWindow(t, sent)
	e.openWindow(t, refused)
	e.sim.AddFault(graphsim.Fault{Code: 131026, To: refused})
	badTo := strings.TrimPrefix(sent, "+") + "999999" // 19 digits: not E.164, quoted by the validation
	jobs := []outbound.Job{
		textJob(jid(t, "pii-sent"), sent, text),
		textJob(jid(t, "pii-bad-to"), badTo, text),
		textJob(jid(t, "pii-long"), strings.TrimPrefix(sent, "+"), text+strings.Repeat("x", 4096)),
		textJob(jid(t, "pii-closed"), closed, text),
		textJob(jid(t, "pii-refused"), refused, text),
	}
	var reasons []string
	for _, j := range jobs {
		if failed := handle(t, h, record(t, j, 1)); len(failed) != 0 {
			t.Fatalf("%s: batch item failures %v", j.JobID, failed)
		}
		if evs := e.coreEvents(t, j.JobID); len(evs) != 1 {
			t.Fatalf("%s: core events %+v, want one", j.JobID, evs)
		}
		if j.JobID == jobs[1].JobID || j.JobID == jobs[2].JobID {
			reasons = append(reasons, e.dlq(t, j.JobID)...)
		}
	}
	if len(reasons) != 2 {
		t.Errorf("dead-letter reasons %q, want the two invalid jobs'", reasons)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < len(jobs) {
		t.Fatalf("only %d log lines", len(lines))
	}
	for _, where := range append(reasons, lines...) {
		for _, pii := range []string{strings.TrimPrefix(sent, "+"), badTo, strings.TrimPrefix(closed, "+"), strings.TrimPrefix(refused, "+"), "segredo"} {
			if strings.Contains(where, pii) {
				t.Errorf("%q appears in %s", pii, where)
			}
		}
	}
}
