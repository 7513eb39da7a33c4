package campaign_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/campaign"
)

// recordedSchedules keeps every CreateSchedule request and stores
// nothing.
type recordedSchedules struct {
	got []*scheduler.CreateScheduleInput
}

func (r *recordedSchedules) DeleteSchedule(context.Context, *scheduler.DeleteScheduleInput, ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	return &scheduler.DeleteScheduleOutput{}, nil
}

func (r *recordedSchedules) CreateSchedule(_ context.Context, in *scheduler.CreateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	r.got = append(r.got, in)
	return &scheduler.CreateScheduleOutput{}, nil
}

// refusedSends fails the test on any SQS send.
type refusedSends struct{ t *testing.T }

func (s refusedSends) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	s.t.Error("a start due in hours was sent to SQS, not scheduled")
	return &sqs.SendMessageOutput{}, nil
}

// TestControlSchedulesAsSchedulerRequires: the one-time schedule that
// wakes a campaign is what EventBridge Scheduler accepts (the emulators
// check none of it): a name of 1-64 letters, digits, '-', '_' or '.',
// an at(yyyy-mm-ddThh:mm:ss) expression in UTC at or after the due time
// (rounded up to the second), no flexible window, deleted after it
// fires, and a target that sends the run command to the campaign queue
// as the scheduler role, with the dead-letter queue for a command it
// could not deliver.
func TestControlSchedulesAsSchedulerRequires(t *testing.T) {
	rec := &recordedSchedules{}
	now := time.Date(2026, 12, 7, 10, 0, 0, 400_000_000, time.UTC)
	ctl := &campaign.Control{API: refusedSends{t}, QueueURL: "http://sqs/q", Schedules: rec, ScheduleGroup: "wacloud-CampaignSchedules-X1",
		QueueARN: "arn:aws:sqs:us-east-1:123456789012:wacloud-CampaignQueue-X1", RoleARN: "arn:aws:iam::123456789012:role/wacloud-CampaignSchedulerRole-X1",
		DeadLetterARN: "arn:aws:sqs:us-east-1:123456789012:wacloud-CampaignDLQ-X1", Now: func() time.Time { return now }}
	// A start between seconds is rounded up to the next one.
	if err := ctl.Start(context.Background(), "acme", "cmp_0123456789abcdef0123", now.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 {
		t.Fatalf("%d schedules requested, want 1", len(rec.got))
	}
	in := rec.got[0]
	name := aws.ToString(in.Name)
	if !regexp.MustCompile(`^[0-9a-zA-Z._-]{1,64}$`).MatchString(name) {
		t.Errorf("name %q is not a schedule name Scheduler accepts", name)
	}
	checks := []struct{ what, got, want string }{
		{"expression", aws.ToString(in.ScheduleExpression), "at(2026-12-10T10:00:01)"},
		{"time zone", aws.ToString(in.ScheduleExpressionTimezone), "UTC"},
		{"group", aws.ToString(in.GroupName), "wacloud-CampaignSchedules-X1"},
		{"flexible window", string(flexMode(in)), string(schedtypes.FlexibleTimeWindowModeOff)},
		{"after completion", string(in.ActionAfterCompletion), string(schedtypes.ActionAfterCompletionDelete)},
		{"target", aws.ToString(in.Target.Arn), "arn:aws:sqs:us-east-1:123456789012:wacloud-CampaignQueue-X1"},
		{"role", aws.ToString(in.Target.RoleArn), "arn:aws:iam::123456789012:role/wacloud-CampaignSchedulerRole-X1"},
		{"dead-letter queue", deadLetter(in), "arn:aws:sqs:us-east-1:123456789012:wacloud-CampaignDLQ-X1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s %q, want %q", c.what, c.got, c.want)
		}
	}
	var cmd campaign.Command
	if err := json.Unmarshal([]byte(aws.ToString(in.Target.Input)), &cmd); err != nil || cmd.TenantID != "acme" || cmd.CampaignID != "cmp_0123456789abcdef0123" {
		t.Errorf("input %s (%v), want the run command of the campaign", aws.ToString(in.Target.Input), err)
	}

	// A start_at (whole seconds, as the API stores it) is the schedule's
	// time and name exactly, whenever it is asked for.
	start := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
	for range 2 {
		if err := ctl.Start(context.Background(), "acme", "cmp_0123456789abcdef0123", start); err != nil {
			t.Fatal(err)
		}
		now = now.Add(1234 * time.Millisecond)
	}
	for _, in := range rec.got[1:] {
		if e, n := aws.ToString(in.ScheduleExpression), aws.ToString(in.Name); e != "at(2026-12-24T09:00:00)" || n != "cmp_0123456789abcdef0123-20261224T090000" {
			t.Errorf("start at %s: expression %s, name %s", start, e, n)
		}
	}
}

func flexMode(in *scheduler.CreateScheduleInput) schedtypes.FlexibleTimeWindowMode {
	if in.FlexibleTimeWindow == nil {
		return ""
	}
	return in.FlexibleTimeWindow.Mode
}

func deadLetter(in *scheduler.CreateScheduleInput) string {
	if in.Target == nil || in.Target.DeadLetterConfig == nil {
		return ""
	}
	return aws.ToString(in.Target.DeadLetterConfig.Arn)
}
