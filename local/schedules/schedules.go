// Package schedules fires EventBridge Scheduler's one-time schedules
// locally. The AWS emulators store schedules (CreateSchedule, GetSchedule,
// ListSchedules, DeleteSchedule) but never invoke their targets; a Firer
// does what Scheduler would for the schedules the connector makes: at a
// schedule's at(…) time it sends the target's input to the SQS queue the
// target names, and deletes the schedule when its ActionAfterCompletion
// is DELETE. It reads a schedule as strictly as Scheduler documents it
// and refuses (logs and leaves) what it does not understand, so a
// schedule that Scheduler would not fire is not fired here either.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SchedulerAPI is the part of the Scheduler client a Firer uses.
type SchedulerAPI interface {
	ListSchedules(ctx context.Context, in *scheduler.ListSchedulesInput, optFns ...func(*scheduler.Options)) (*scheduler.ListSchedulesOutput, error)
	GetSchedule(ctx context.Context, in *scheduler.GetScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

// QueueAPI is the part of the SQS client a Firer uses.
type QueueAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Firer fires the due one-time schedules of one schedule group.
type Firer struct {
	Schedules SchedulerAPI
	Queues    QueueAPI
	Group     string
	Now       func() time.Time
	Log       *slog.Logger
}

// atExpr is Scheduler's one-time expression, at(yyyy-mm-ddThh:mm:ss).
var atExpr = regexp.MustCompile(`^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$`)

// Due is when a one-time schedule's expression falls in its time zone
// (UTC when none is given). Other expressions are refused.
func Due(expression, timezone string) (time.Time, error) {
	m := atExpr.FindStringSubmatch(expression)
	if m == nil {
		return time.Time{}, fmt.Errorf("schedule expression %q is not a one-time at(yyyy-mm-ddThh:mm:ss)", expression)
	}
	loc := time.UTC
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		if err != nil {
			return time.Time{}, fmt.Errorf("schedule time zone %q: %w", timezone, err)
		}
		loc = l
	}
	return time.ParseInLocation("2006-01-02T15:04:05", m[1], loc)
}

// Fire fires every due schedule of the group once and says how many it
// fired. A schedule it cannot read or fire is logged and left (the next
// call tries again, as Scheduler retries a failed target).
func (f *Firer) Fire(ctx context.Context) (int, error) {
	var names []string
	for token := (*string)(nil); ; {
		out, err := f.Schedules.ListSchedules(ctx, &scheduler.ListSchedulesInput{GroupName: aws.String(f.Group), NextToken: token})
		if err != nil {
			return 0, fmt.Errorf("list schedules of group %s: %w", f.Group, err)
		}
		for _, s := range out.Schedules {
			if s.State != schedtypes.ScheduleStateDisabled {
				names = append(names, aws.ToString(s.Name))
			}
		}
		if token = out.NextToken; token == nil || *token == "" {
			break
		}
	}
	fired := 0
	var errs []error
	for _, name := range names {
		ok, err := f.fire(ctx, name)
		if err != nil {
			f.log().WarnContext(ctx, "schedule not fired", "group", f.Group, "schedule", name, "error", err.Error())
			errs = append(errs, err)
		}
		if ok {
			fired++
		}
	}
	return fired, errors.Join(errs...)
}

func (f *Firer) fire(ctx context.Context, name string) (bool, error) {
	s, err := f.Schedules.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(f.Group)})
	var nf *schedtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return false, nil // deleted since the list
	}
	if err != nil {
		return false, fmt.Errorf("read schedule %s: %w", name, err)
	}
	due, err := Due(aws.ToString(s.ScheduleExpression), aws.ToString(s.ScheduleExpressionTimezone))
	if err != nil {
		return false, fmt.Errorf("schedule %s: %w", name, err)
	}
	if f.now().Before(due) {
		return false, nil
	}
	if s.Target == nil {
		return false, fmt.Errorf("schedule %s has no target", name)
	}
	queue, err := f.queueURL(ctx, aws.ToString(s.Target.Arn))
	if err != nil {
		return false, fmt.Errorf("schedule %s: %w", name, err)
	}
	if _, err := f.Queues.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: s.Target.Input}); err != nil {
		return false, fmt.Errorf("schedule %s: send its input: %w", name, err)
	}
	if s.ActionAfterCompletion == schedtypes.ActionAfterCompletionDelete {
		if _, err := f.Schedules.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(f.Group)}); err != nil && !errors.As(err, &nf) {
			return true, fmt.Errorf("schedule %s fired; delete it: %w", name, err)
		}
	}
	f.log().InfoContext(ctx, "schedule fired", "group", f.Group, "schedule", name, "due", due.UTC().Format(time.RFC3339))
	return true, nil
}

// queueURL is the URL of the SQS queue arn names
// (arn:aws:sqs:region:account:name).
func (f *Firer) queueURL(ctx context.Context, arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5] == "" {
		return "", fmt.Errorf("target %q is not an SQS queue ARN (the local firer sends to queues only)", arn)
	}
	out, err := f.Queues.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5])})
	if err != nil {
		return "", fmt.Errorf("target queue %s: %w", parts[5], err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// Run fires due schedules every interval until ctx ends.
func (f *Firer) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := f.Fire(ctx); err != nil && ctx.Err() == nil {
			f.log().DebugContext(ctx, "firing schedules", "group", f.Group, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *Firer) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Firer) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}
