package stack

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
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

// TestProvisionDeploymentSettings: what the template sets for an AWS
// account only (a customer queue key) does not stop the local stack, event
// sources carry their MaximumConcurrency, and the data bucket is versioned
// as in AWS.
func TestProvisionDeploymentSettings(t *testing.T) {
	emu := awsemu.StartTest(t)
	tmpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params map[string]string
		want   map[string]int // function -> MaximumConcurrency of its source
	}{
		{
			name: "defaults",
			want: map[string]int{"InboundFunction": 20, "BridgeFunction": 20, "SenderFunction": 50, "MediaFunction": 20, "StatusFunction": 20},
		},
		{
			name: "customer queue key and overrides",
			params: map[string]string{
				"QueueKmsKeyArn":        "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab",
				"SenderMaxConcurrency":  "7",
				"InboundMaxConcurrency": "3",
			},
			want: map[string]int{"InboundFunction": 3, "BridgeFunction": 20, "SenderFunction": 7, "MediaFunction": 20, "StatusFunction": 20},
		},
	}
	ctx := context.Background()
	s3c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Provision(ctx, emu.Config(), tmpl, Options{StackName: fmt.Sprintf("deploy-%d", i), Params: tc.params})
			if err != nil {
				t.Fatal(err)
			}
			for fn, want := range tc.want {
				srcs := s.Functions[fn].Sources
				if len(srcs) != 1 {
					t.Errorf("%s sources = %+v, want one", fn, srcs)
					continue
				}
				if got := srcs[0].MaxConcurrency; got != want {
					t.Errorf("%s MaxConcurrency = %d, want %d", fn, got, want)
				}
			}
			for bucket, want := range map[string]s3types.BucketVersioningStatus{"DataBucket": s3types.BucketVersioningStatusEnabled, "LogBucket": ""} {
				out, err := s3c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(s.Names.Ref[bucket])})
				if err != nil {
					t.Fatal(err)
				}
				if out.Status != want {
					t.Errorf("%s versioning = %q, want %q", bucket, out.Status, want)
				}
			}
		})
	}
}
