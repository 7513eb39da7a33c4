package campaign

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/fault"
)

// A run keeps its command. The campaign queue's visibility timeout is
// 90 minutes (six times the function's timeout, as AWS advises for an
// event source), which is how long a command stays out of sight once
// received. A run that ends with a word (done, handed over, waiting, a
// retryable failure with its backoff) decides when its campaign goes
// on; a run killed outright (its process gone, a panic, the function
// timed out before it handed over) cannot, and its campaign used to
// wait out the 90 minutes. So a run holds its lease only LeaseFor past
// its last checkpoint, and keeps its command out of sight for half as
// long again, renewed every third of LeaseFor at a checkpoint: when a
// run dies, its command comes back after its lease has ended (the
// command's last renewal was at most a third of LeaseFor before the
// lease's), and the run it starts takes the campaign over from the
// checkpoint. With the default lease of a minute, a campaign whose run
// was killed goes on within 90 seconds.
//
// A command that finds the lease held by a live run is dropped, as a
// repeated command is (Run). So when a run cannot keep its command (the
// receipt handle is refused: the message was received again and
// dropped, or deleted; or SQS failed the call), no command stands behind
// the campaign any more, and the run hands over: it commits and sends
// its next command, as at its deadline.

// DefaultLease is Runner.LeaseFor by default.
const DefaultLease = time.Minute

// keepVisibility is how long a run's command stays out of sight after
// each renewal, for a lease of d: the lease, the time between two
// renewals (d/3) and a sixth of d for the clocks of SQS and the
// function to differ.
func keepVisibility(d time.Duration) time.Duration { return d * 3 / 2 }

// keep renews the run's command's visibility when a third of the lease
// has passed since the last renewal. A run without a receipt handle
// (called without its queue, as in tests and wacloudctl) keeps nothing.
// The error is retryable.
func (ru *run) keep(ctx context.Context) error {
	if ru.receipt == "" || ru.Visibility == nil || ru.QueueURL == "" {
		return nil
	}
	now := ru.now()
	if !ru.keptAt.IsZero() && now.Sub(ru.keptAt) < ru.leaseFor()/3 {
		return nil
	}
	secs := (keepVisibility(ru.leaseFor()) + time.Second - 1) / time.Second
	if _, err := ru.Visibility.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(ru.QueueURL),
		ReceiptHandle: aws.String(ru.receipt), VisibilityTimeout: int32(secs)}); err != nil {
		return fault.Retryable(fmt.Errorf("keep the run command of campaign %s out of sight: %w", ru.c.ID, err))
	}
	ru.keptAt = now
	return nil
}

// handOver ends a run that can no longer keep its command (why) by
// sending the campaign's next command; the run's checkpoint is at row.
func (ru *run) handOver(ctx context.Context, why error, row int64) error {
	ru.log().WarnContext(ctx, "campaign run cannot keep its command; handed over",
		slog.String("tenant_id", ru.c.TenantID), slog.String("campaign_id", ru.c.ID), slog.Int64("row", row), slog.String("error", why.Error()))
	return ru.Wake.Run(ctx, ru.c.TenantID, ru.c.ID, 0)
}
