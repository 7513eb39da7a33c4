package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// MaxDelay is the longest delay SQS holds a message back; a campaign due
// later is woken up once every MaxDelay until it is due.
const MaxDelay = 15 * time.Minute

// Control sends commands to the campaign queue (a standard queue: a
// command may arrive twice, which the runner tolerates). Errors are
// retryable.
type Control struct {
	API      SendAPI
	QueueURL string
}

// Run asks the runner to run the campaign after delay (at most MaxDelay).
func (c *Control) Run(ctx context.Context, tenantID, id string, delay time.Duration) error {
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
