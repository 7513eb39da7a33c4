package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/window"
)

// Meta accepts some sends it cannot carry out and says so later, in a
// failed status: a free-form message outside the customer service window
// (131047) and a media link it cannot fetch (131053). The core hears
// outbound.accepted, then the failure; a link that works is fetched and
// delivered.
func TestMetaFailsLaterWhatItAccepted(t *testing.T) {
	h := startOutbound(t)
	ctx := context.Background()
	bucket := h.Stack.Names.Ref["DataBucket"]
	key := "tenants/" + connector.DemoTenantID + "/outbound/e2e-photo.jpg"
	if _, err := s3.NewFromConfig(h.Emulator.Config(), func(o *s3.Options) { o.UsePathStyle = true }).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), ContentType: aws.String("image/jpeg"),
		Body: strings.NewReader("\xff\xd8\xff a small jpeg"),
	}); err != nil {
		t.Fatal(err)
	}
	image := func(link string) func(jobID, contact string) outbound.Job {
		return func(jobID, contact string) outbound.Job {
			return outbound.Job{JobID: jobID, TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
				To: "+" + contact, Type: "image", ClientRef: "crm-" + jobID, Image: &outbound.Media{Link: link, Caption: "your receipt"}}
		}
	}
	text := func(jobID, contact string) outbound.Job { return textJob(jobID, contact, "are you still there?") }
	tests := []struct {
		name string
		// open opens the contact's window: at the sender only (its window
		// record, as if a message had reached it that Meta no longer
		// counts), or by the contact writing, which Meta sees too.
		senderOnly bool
		job        func(jobID, contact string) outbound.Job
		wantCode   int // 0: delivered and read
		wantReason string
	}{
		{"window closed at Meta", true, text, 131047, "window_closed"},
		{"link Meta cannot fetch", false, image(h.GraphURL + "/_sim/no-such-photo.jpg"), 131053, ""},
		{"s3 media Meta fetches", false, image("s3://" + bucket + "/" + key), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			contact := newContact()
			if tt.senderOnly {
				w := window.Store{API: dynamodb.NewFromConfig(h.Emulator.Config()), Table: h.Stack.Names.Ref["StateTable"]}
				if err := w.RecordInbound(ctx, connector.DemoPhoneNumberID, contact, time.Now().Add(-time.Minute)); err != nil {
					t.Fatal(err)
				}
			} else {
				openWindow(t, h, contact)
			}
			fetched := h.Sim.MessageStats().LinksFetched
			j := tt.job(newJobID("later"), contact)
			enqueue(t, h, j, "")
			res := awaitResult(t, h, j.JobID)
			if res.Type != event.TypeOutboundAccepted {
				t.Fatalf("result %s %+v, want outbound.accepted: Meta accepts the send", res.Type, res.Outbound)
			}
			last := "read"
			if tt.wantCode != 0 {
				last = "failed"
			}
			evs := awaitStatus(t, h, contact, res.Outbound.MessageID, last)
			st := messageStatuses(evs, res.Outbound.MessageID)
			s := st[len(st)-1].Status
			if tt.wantCode != 0 {
				if len(s.Errors) != 1 || s.Errors[0].Code != tt.wantCode || s.Errors[0].Details == "" {
					t.Errorf("failed status errors %+v, want Meta's %d with details", s.Errors, tt.wantCode)
				}
				if tt.wantReason != "" && (s.Failure == nil || s.Failure.Reason != tt.wantReason) {
					t.Errorf("failure %+v, want reason %s", s.Failure, tt.wantReason)
				}
			}
			if j.Type == "image" {
				if got := h.Sim.MessageStats().LinksFetched - fetched; got != 1 {
					t.Errorf("the simulator fetched %d links, want 1", got)
				}
			}
		})
	}
	checkContract(t, h)
}
