package graphsim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/outbound"
)

// TestSenderSamplesAccepted sends the request the sender builds from each
// sample job of events/sender (every form the job contract has: flows,
// catalog and product messages, order details and status, location and
// address requests, carousel, limited-time offer, coupon, authentication,
// flow and multi-product templates...) and expects the simulator, which
// validates like Meta, to accept it.
func TestSenderSamplesAccepted(t *testing.T) {
	files, err := filepath.Glob("../../events/sender/*.json")
	if err != nil || len(files) < 30 {
		t.Fatalf("sample events: %d, %v", len(files), err)
	}
	_, srv, _ := newSendSim(t, 1000)
	for i, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			job, err := outbound.Decode([]byte(ev.Records[0].Body))
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range job.MediaRefs() {
				if ref.Media.IsS3() {
					ref.Resolved("1227829768162607", "")
				}
			}
			if job.Type == outbound.TypeRead || job.Type == outbound.TypeTyping {
				t.Skip("receipts need an inbound message to mark")
			}
			// One recipient per sample keeps the pair limit out of the way.
			job.To, job.Recipient = fmt.Sprintf("55119888%05d", i), ""
			req, err := outbound.Build(job)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(req)
			if a := send(t, srv.URL, "tok-a", string(body)); a.status != 200 {
				t.Errorf("status %d, code %d, %s %s\n%s", a.status, a.Error.Code, a.Error.Message, a.Error.Data.Details, body)
			}
		})
	}
}
