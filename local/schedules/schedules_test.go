package schedules_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/schedules"
	"github.com/tucanlink/wacloud/shared/campaign"
)

func TestDue(t *testing.T) {
	saoPaulo, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, expr, tz string
		want           time.Time
		bad            bool
	}{
		{name: "UTC", expr: "at(2026-12-10T09:30:00)", tz: "UTC", want: time.Date(2026, 12, 10, 9, 30, 0, 0, time.UTC)},
		{name: "no time zone is UTC", expr: "at(2026-12-10T09:30:00)", want: time.Date(2026, 12, 10, 9, 30, 0, 0, time.UTC)},
		{name: "another time zone", expr: "at(2026-12-10T09:30:00)", tz: "America/Sao_Paulo", want: time.Date(2026, 12, 10, 9, 30, 0, 0, saoPaulo)},
		{name: "a zone suffix", expr: "at(2026-12-10T09:30:00Z)", bad: true},
		{name: "fractions of a second", expr: "at(2026-12-10T09:30:00.5)", bad: true},
		{name: "a rate", expr: "rate(5 minutes)", bad: true},
		{name: "a cron", expr: "cron(0 9 * * ? *)", bad: true},
		{name: "an unknown time zone", expr: "at(2026-12-10T09:30:00)", tz: "Mars/Olympus", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schedules.Due(tt.expr, tt.tz)
			if tt.bad {
				if err == nil {
					t.Fatalf("Due(%q, %q) = %v, want refused", tt.expr, tt.tz, got)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("Due(%q, %q) = %v, %v, want %v", tt.expr, tt.tz, got, err, tt.want)
			}
		})
	}
}

// TestCampaignStartsFromItsSchedule: campaign.Control wakes a campaign
// due in two hours through a one-time schedule (in the emulator, as in
// AWS), not through SQS; asking again for the same wake is harmless; the
// Firer leaves the schedule before it is due and, once due, sends its
// command to the campaign queue and deletes it. A wake within SQS's 15
// minutes stays a delayed message.
func TestCampaignStartsFromItsSchedule(t *testing.T) {
	ctx := context.Background()
	emu := awsemu.StartTest(t)
	cfg := emu.Config()
	sch, q := scheduler.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	const group = "t-campaign-schedules"
	if _, err := sch.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	qout, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("t-campaign-queue")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qout.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ctl := &campaign.Control{API: q, QueueURL: aws.ToString(qout.QueueUrl), Schedules: sch, ScheduleGroup: group,
		QueueARN: attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], RoleARN: "arn:aws:iam::000000000000:role/t-scheduler",
		Now: clock}
	const id = "cmp_0123456789abcdef0123"
	for range 2 { // the second ask finds the wake scheduled
		if err := ctl.Start(ctx, "demo", id, now.Add(2*time.Hour)); err != nil {
			t.Fatalf("schedule a start two hours ahead: %v", err)
		}
	}
	list, err := sch.ListSchedules(ctx, &scheduler.ListSchedulesInput{GroupName: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	want := campaign.ScheduleName(id, now.Add(2*time.Hour))
	if len(list.Schedules) != 1 || aws.ToString(list.Schedules[0].Name) != want {
		t.Fatalf("schedules %+v, want one named %s", list.Schedules, want)
	}
	got, err := sch.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(want), GroupName: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	if e := aws.ToString(got.ScheduleExpression); e != "at(2026-12-07T12:00:00)" {
		t.Errorf("expression %s, want at(2026-12-07T12:00:00)", e)
	}

	f := &schedules.Firer{Schedules: sch, Queues: q, Group: group, Now: clock}
	if n, err := f.Fire(ctx); err != nil || n != 0 {
		t.Fatalf("Fire before the start: %d fired, %v; want none", n, err)
	}
	if m := receive(t, q, aws.ToString(qout.QueueUrl)); m != nil {
		t.Fatalf("a command before the start: %s", aws.ToString(m.Body))
	}
	now = now.Add(2 * time.Hour)
	if n, err := f.Fire(ctx); err != nil || n != 1 {
		t.Fatalf("Fire at the start: %d fired, %v; want 1", n, err)
	}
	m := receive(t, q, aws.ToString(qout.QueueUrl))
	if m == nil {
		t.Fatal("no run command on the queue at the start")
	}
	var cmd campaign.Command
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &cmd); err != nil || cmd.TenantID != "demo" || cmd.CampaignID != id {
		t.Errorf("command %s (%v), want campaign %s of demo", aws.ToString(m.Body), err, id)
	}
	list, err = sch.ListSchedules(ctx, &scheduler.ListSchedulesInput{GroupName: aws.String(group)})
	if err != nil || len(list.Schedules) != 0 {
		t.Errorf("schedules after firing: %+v, %v; want none (deleted after completion)", list.Schedules, err)
	}

	if err := ctl.Start(ctx, "demo", id, now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err = sch.ListSchedules(ctx, &scheduler.ListSchedulesInput{GroupName: aws.String(group)})
	if err != nil || len(list.Schedules) != 0 {
		t.Errorf("a wake in 10 minutes made schedules %+v (%v); want a delayed message", list.Schedules, err)
	}
	qa, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qout.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	if d := qa.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed)]; d != "1" {
		t.Errorf("delayed messages %s, want 1", d)
	}
}

func receive(t *testing.T, q *sqs.Client, url string) *sqstypes.Message {
	t.Helper()
	out, err := awsemu.Receive(context.Background(), q, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 1, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	return &out.Messages[0]
}
