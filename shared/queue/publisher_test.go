package queue_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/shared/queue"
)

// A group id over SQS's 128 characters (a contact known only by a
// business-scoped user id, "CC." and up to 128 characters, after the tenant
// and number), or with characters SQS refuses, is rewritten the same way
// every time, so the contact's messages keep one group, apart from every
// other contact's.
func TestPublishLongGroupIDs(t *testing.T) {
	q := newQueues(t)
	prefix := strings.Repeat("t", 64) + ":12345678901234567890:"
	groups := map[string]string{ // body -> group
		"bsuid-1": prefix + "US." + strings.Repeat("1", 128),
		"bsuid-2": prefix + "US." + strings.Repeat("2", 128),
		"wa-id":   prefix + "5511999990001",
		// SQS allows only printable ASCII without spaces.
		"spaced": "t:1:Ana María",
	}
	var msgs []queue.Message
	for body, g := range groups {
		msgs = append(msgs, queue.Message{Body: body, GroupID: g, DedupID: body})
	}
	q.send(t, msgs...)
	got := map[string]string{} // body -> group SQS holds
	for len(got) < len(groups) {
		ev := q.receiveEvents()
		if len(ev.Records) == 0 {
			t.Fatalf("received %d of the %d messages", len(got), len(groups))
		}
		for _, r := range ev.Records {
			got[r.Body] = r.Attributes["MessageGroupId"]
			if _, err := q.api.DeleteMessage(q.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.src), ReceiptHandle: aws.String(r.ReceiptHandle)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for body, g := range got {
		if len(g) > 128 {
			t.Errorf("%s: group id of %d characters reached SQS", body, len(g))
		}
		if want := queue.GroupID(groups[body]); g != want {
			t.Errorf("%s: group = %q, want %q", body, g, want)
		}
	}
	if g := got["spaced"]; !strings.HasPrefix(g, "t:1:Ana_Mar__a") || len(g) != len("t:1:Ana_Mar__a")+32 {
		t.Errorf("group with a space and non-ASCII letters = %q, want them as '_' and a hash", g)
	}
	if got["bsuid-1"] == got["bsuid-2"] {
		t.Errorf("two contacts share group %q", got["bsuid-1"])
	}
	if got["wa-id"] != groups["wa-id"] {
		t.Errorf("group that fits = %q, want it unchanged", got["wa-id"])
	}
	if g := queue.GroupID(groups["bsuid-1"]); len(g) != 96 || !strings.HasPrefix(groups["bsuid-1"], g[:64]) {
		t.Errorf("GroupID = %q, want 64 characters of the id and a hash", g)
	}
}

// TestPublishTenantOnAStandardQueue: a message's Tenant is its
// MessageGroupId on a standard queue (what SQS fair queues tell tenants
// apart by), and a message without one has none.
func TestPublishTenantOnAStandardQueue(t *testing.T) {
	emu := awsemu.StartTest(t)
	c := sqs.NewFromConfig(emu.Config())
	ctx := context.Background()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("fair%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(out.QueueUrl)
	if err := (queue.Publisher{API: c}).Publish(ctx, url,
		queue.Message{Body: "with", Tenant: "100000000000001", GroupID: "ignored on a standard queue"},
		queue.Message{Body: "without"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for len(got) < 2 {
		rcv, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rcv.Messages) == 0 {
			t.Fatalf("received %d of the 2 messages", len(got))
		}
		for _, m := range rcv.Messages {
			got[aws.ToString(m.Body)] = m.Attributes["MessageGroupId"]
		}
	}
	if got["with"] != "100000000000001" || got["without"] != "" {
		t.Errorf("MessageGroupId of the message with a tenant %q, without %q; want the tenant and none", got["with"], got["without"])
	}
}
