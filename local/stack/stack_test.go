package stack

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
)

func TestProvisionTemplate(t *testing.T) {
	emu := awsemu.StartTest(t)
	tmpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Provision(ctx, emu.Config(), tmpl, Options{Params: map[string]string{"CoreUrl": "http://127.0.0.1:3002"}})
	if err != nil {
		t.Fatal(err)
	}
	wh, ok := s.Functions["WebhookFunction"]
	if !ok {
		t.Fatal("WebhookFunction not resolved")
	}
	if got := wh.Env["INBOUND_QUEUE_URL"]; !strings.HasSuffix(got, "/InboundQueue.fifo") {
		t.Errorf("INBOUND_QUEUE_URL = %q", got)
	}
	if got, want := wh.Env["TENANT_SECRET_PREFIX"], "wacloud/tenants/"; got != want {
		t.Errorf("TENANT_SECRET_PREFIX = %q, want %q", got, want)
	}
	if len(wh.Routes) != 4 {
		t.Errorf("webhook routes = %v, want 4", wh.Routes)
	}
	if got := s.Functions["BridgeFunction"].Env["CORE_URL"]; got != "http://127.0.0.1:3002" {
		t.Errorf("CORE_URL = %q, parameter override not applied", got)
	}
	in := s.Functions["InboundFunction"]
	if len(in.Sources) != 1 || !in.Sources[0].ReportItemFailures || in.Sources[0].QueueID != "InboundQueue" {
		t.Errorf("inbound sources = %+v", in.Sources)
	}

	// The redrive policy points at the dead-letter queue's ARN.
	q := sqs.NewFromConfig(emu.Config())
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(s.Names.Ref["InboundQueue"]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rp := out.Attributes["RedrivePolicy"]; !strings.Contains(rp, s.Names.Att["InboundDLQ.Arn"]) {
		t.Errorf("RedrivePolicy = %q, want DLQ %q", rp, s.Names.Att["InboundDLQ.Arn"])
	}
	if out.Attributes["FifoQueue"] != "true" {
		t.Errorf("InboundQueue is not FIFO: %v", out.Attributes)
	}
}
