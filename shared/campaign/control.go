package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Command is a control message on the campaign queue: run (or go on
// running) the campaign. Repeating one is harmless: the runner's lease
// and checkpoint decide what, if anything, is left to do.
type Command struct {
	TenantID   string `json:"tenant_id"`
	CampaignID string `json:"campaign_id"`

	// receipt is the command's SQS receipt handle, which the run uses
	// to keep the command out of sight while it runs (keep.go).
	receipt string
}

// SendAPI is the part of the SQS client Control uses.
type SendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// ScheduleAPI is the part of the EventBridge Scheduler client Control
// uses.
type ScheduleAPI interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

// MaxDelay is the longest delay SQS holds a message back. A campaign
// started later (Start) is woken by a one-time EventBridge Scheduler
// schedule when Control has one, and otherwise once every MaxDelay until
// it is due.
const MaxDelay = 15 * time.Minute

// Control sends commands to the campaign queue (a standard queue: a
// command may arrive twice, which the runner tolerates). Errors are
// retryable.
type Control struct {
	API      SendAPI
	QueueURL string

	// Schedules, when set, takes a start due later than MaxDelay: a
	// one-time schedule in ScheduleGroup that sends the command to the
	// queue QueueARN as the role RoleARN at the due time (a failed send
	// goes to DeadLetterARN) and then deletes itself. Without it, such a
	// run is woken every MaxDelay until it is due.
	Schedules     ScheduleAPI
	ScheduleGroup string
	QueueARN      string
	RoleARN       string
	DeadLetterARN string
	Now           func() time.Time
}

// Run asks the runner to run the campaign after delay (at most
// MaxDelay: the runner's own wakes, a hand-over or a look at capacity).
func (c *Control) Run(ctx context.Context, tenantID, id string, delay time.Duration) error {
	return c.send(ctx, tenantID, id, delay)
}

// Start asks the runner to start the campaign at at: through a one-time
// schedule when at is further than MaxDelay ahead and Control has
// Schedules, else as a command delayed by the time left.
func (c *Control) Start(ctx context.Context, tenantID, id string, at time.Time) error {
	left := at.Sub(c.now())
	if left > MaxDelay && c.Schedules != nil {
		return c.schedule(ctx, tenantID, id, at)
	}
	return c.send(ctx, tenantID, id, left)
}

// send puts the run command on the queue, delayed by delay (at most
// MaxDelay).
func (c *Control) send(ctx context.Context, tenantID, id string, delay time.Duration) error {
	body, _ := json.Marshal(Command{TenantID: tenantID, CampaignID: id})
	delay = min(max(delay, 0), MaxDelay)
	_, err := c.API.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(c.QueueURL), MessageBody: aws.String(string(body)),
		DelaySeconds: int32((delay + time.Second - 1) / time.Second),
	})
	if err != nil {
		return fault.Retryable(fmt.Errorf("send run command of campaign %s of tenant %s: %w", id, tenantID, err))
	}
	return nil
}

// ScheduleName is the name of the schedule that wakes campaign id at
// at: one per campaign and due second, so asking again for the same
// wake (a repeated request, a resume before the start) finds it made.
func ScheduleName(id string, at time.Time) string {
	return id + "-" + at.UTC().Format("20060102T150405")
}

// ScheduleExpression is the one-time schedule expression of at, in UTC
// (ScheduleTimezone), to the second: Scheduler's at(yyyy-mm-ddThh:mm:ss).
func ScheduleExpression(at time.Time) string {
	return "at(" + at.UTC().Format("2006-01-02T15:04:05") + ")"
}

// ScheduleTimezone is the time zone of every schedule's expression.
const ScheduleTimezone = "UTC"

// Unschedule deletes the schedule Start made for the campaign's start at
// at, if any (a cancelled campaign's): one that already fired, or was
// never made (a start within MaxDelay, no Schedules), is not an error.
func (c *Control) Unschedule(ctx context.Context, tenantID, id string, at time.Time) error {
	if c.Schedules == nil {
		return nil
	}
	_, err := c.Schedules.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{
		Name: aws.String(ScheduleName(id, dueSecond(at))), GroupName: aws.String(c.ScheduleGroup)})
	var nf *schedtypes.ResourceNotFoundException
	if err == nil || errors.As(err, &nf) {
		return nil
	}
	return fault.Retryable(fmt.Errorf("delete the start schedule of campaign %s of tenant %s: %w", id, tenantID, err))
}

// dueSecond is at rounded up to the second, so a command never comes
// before it.
func dueSecond(at time.Time) time.Time {
	if t := at.Truncate(time.Second); t.Before(at) {
		return t.Add(time.Second)
	}
	return at
}

// schedule makes the one-time schedule that sends the run command at at
// (dueSecond).
func (c *Control) schedule(ctx context.Context, tenantID, id string, at time.Time) error {
	at = dueSecond(at)
	body, _ := json.Marshal(Command{TenantID: tenantID, CampaignID: id})
	in := &scheduler.CreateScheduleInput{
		Name:                       aws.String(ScheduleName(id, at)),
		GroupName:                  aws.String(c.ScheduleGroup),
		ScheduleExpression:         aws.String(ScheduleExpression(at)),
		ScheduleExpressionTimezone: aws.String(ScheduleTimezone),
		FlexibleTimeWindow:         &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		ActionAfterCompletion:      schedtypes.ActionAfterCompletionDelete,
		Description:                aws.String("start campaign " + id + " of tenant " + tenantID),
		Target: &schedtypes.Target{
			Arn: aws.String(c.QueueARN), RoleArn: aws.String(c.RoleARN), Input: aws.String(string(body)),
			RetryPolicy: &schedtypes.RetryPolicy{MaximumEventAgeInSeconds: aws.Int32(86400), MaximumRetryAttempts: aws.Int32(185)},
		},
	}
	if c.DeadLetterARN != "" {
		in.Target.DeadLetterConfig = &schedtypes.DeadLetterConfig{Arn: aws.String(c.DeadLetterARN)}
	}
	_, err := c.Schedules.CreateSchedule(ctx, in)
	var conflict *schedtypes.ConflictException
	if errors.As(err, &conflict) {
		return nil // this wake was scheduled already
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("schedule the start of campaign %s of tenant %s: %w", id, tenantID, err))
	}
	return nil
}

func (c *Control) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
