package sender

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/shared/event"
)

// TestJobContractAtTheSender sends jobs that bend the contract: an s3://
// link whose scheme is not in lower case is resolved like any other (or
// refused when it is not the tenant's), never passed to Meta as it is; a
// key the contract does not have, at any depth, refuses the job, and so
// does a key given twice or in another case ("To" beside "to").
func TestJobContractAtTheSender(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	ctx := context.Background()
	bucket := e.stack.Names.Ref["DataBucket"]
	s3c := s3.NewFromConfig(e.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("tenants/demo/outbound/case.jpg"),
		Body: strings.NewReader("\xff\xd8\xff\xe0 jpeg"), ContentType: aws.String("image/jpeg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("tenants/other/outbound/secret.jpg"),
		Body: strings.NewReader("\xff\xd8\xff\xe0 jpeg"), ContentType: aws.String("image/jpeg")}); err != nil {
		t.Fatal(err)
	}
	header := func(link string) string {
		return `"template":{"name":"promo","language":{"code":"pt_BR"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"` + link + `"}}]}]}`
	}
	tests := []struct {
		name       string
		job        string // after job_id, tenant_id and phone_number_id; starts with "to":"+…"
		wantReason string // "" means sent
		wantDetail string
	}{
		{name: "image S3:// resolved", job: `"to":"+5511966660001","type":"image","image":{"link":"S3://` + bucket + `/tenants/demo/outbound/case.jpg"}`},
		{name: "template header S3:// resolved", job: `"to":"+5511966660002","type":"template",` + header("S3://"+bucket+"/tenants/demo/outbound/case.jpg")},
		{name: "another tenant's key in capitals", job: `"to":"+5511966660003","type":"image","image":{"link":"S3://` + bucket + `/tenants/other/outbound/secret.jpg"}`,
			wantReason: event.ReasonInvalidJob, wantDetail: "s3 key must be under tenants/demo/"},
		{name: "another tenant's key beside a text parameter",
			job: `"to":"+5511966660004","type":"template","template":{"name":"promo","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana","image":{"link":"s3://` +
				bucket + `/tenants/other/outbound/secret.jpg"}}]}]}`,
			wantReason: event.ReasonInvalidJob, wantDetail: `a "text" parameter cannot carry "image"`},
		{name: "unknown key in a template parameter", job: `"to":"+5511966660005","type":"template","template":{"name":"promo","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana","txt":"x"}]}]}`,
			wantReason: event.ReasonInvalidJob, wantDetail: `$.template.components[0].parameters[0]: unknown key "txt"`},
		{name: "To beside to", job: `"to":"+5511966660006","To":"+5511966660007","type":"text","text":{"body":"hi"}`,
			wantReason: event.ReasonInvalidJob, wantDetail: `keys "to" and "To" differ only in case`},
		{name: "to given twice", job: `"to":"+5511966660008","type":"text","text":{"body":"hi"},"to":"+5511966660009"`,
			wantReason: event.ReasonInvalidJob, wantDetail: `key "to" appears twice`},
		{name: "Text instead of text", job: `"to":"+5511966660010","type":"text","Text":{"body":"hi"}`,
			wantReason: event.ReasonInvalidJob, wantDetail: `unknown key "Text" (key names are case-sensitive: "text")`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := jid(t, "contract-"+string(rune('a'+i)))
			body := `{"job_id":"` + id + `","tenant_id":"demo","phone_number_id":"` + numberA + `",` + tt.job + `}`
			to := rcpt(t, tt.job[6:20])
			body = strings.ReplaceAll(body, tt.job[6:20], to)
			e.openWindow(t, to)
			before := e.sends.Load()
			rec := record(t, map[string]any{}, 1)
			rec.Body = body
			if failed := handle(t, h, rec); len(failed) != 0 {
				t.Fatalf("batch item failures %v", failed)
			}
			evs := e.coreEvents(t, id)
			if len(evs) != 1 {
				t.Fatalf("core events %+v, want one", evs)
			}
			res := evs[0].Outbound
			if tt.wantReason == "" {
				if evs[0].Type != event.TypeOutboundAccepted {
					t.Fatalf("%s %+v, want outbound.accepted", evs[0].Type, res)
				}
				sent := e.simFor(to)
				if len(sent) != 1 {
					t.Fatalf("simulator accepted %+v, want one message", sent)
				}
				for _, a := range sent {
					if strings.Contains(strings.ToLower(string(a.Body)), "s3://") {
						t.Errorf("an s3 link reached Meta: %s", a.Body)
					}
				}
				return
			}
			if evs[0].Type != event.TypeOutboundFailed || res.Reason != tt.wantReason || !strings.Contains(res.Details, tt.wantDetail) {
				t.Errorf("%s %+v, want %s with %q", evs[0].Type, res, tt.wantReason, tt.wantDetail)
			}
			if c := evs[0].Contact; c != nil && c.WaID != strings.TrimPrefix(to, "+") {
				t.Errorf("the failure names contact %+v, not the job's", c)
			}
			if e.sends.Load() != before {
				t.Error("the job reached the Graph API")
			}
			e.dlq(t, id)
		})
	}
}
