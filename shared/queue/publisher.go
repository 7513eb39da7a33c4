package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/shared/tracing"
)

// SendAPI is the part of the SQS client Publisher uses.
type SendAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Message is one message to publish. GroupID and DedupID are used only on
// FIFO queues (URLs ending in .fifo), where GroupID is required; Tenant
// only on standard queues.
type Message struct {
	Body    string
	GroupID string
	DedupID string
	// Tenant is the message's tenant on a standard queue (its
	// MessageGroupId there): SQS fair queues deliver a quiet tenant's
	// messages ahead of another tenant's backlog. It sets no order.
	Tenant     string
	Attributes map[string]string
	// TraceHeader is the X-Ray trace header the message continues (the
	// AWSTraceHeader system attribute); empty: the publishing context's
	// (tracing.FromContext), if any.
	TraceHeader string
}

// Limits of one SendMessageBatch call.
const (
	maxBatchEntries = 10
	maxBatchBytes   = 256 * 1024
)

// Publisher sends messages to SQS queues in as few calls as SQS allows.
// It is safe for concurrent use.
type Publisher struct {
	API SendAPI
}

// Publish sends msgs to queueURL, preserving their order within each FIFO
// group. It returns an error classified Retry if any message was not
// accepted; callers retry the whole publish, which FIFO deduplication ids
// (and downstream idempotency) make safe.
func (p Publisher) Publish(ctx context.Context, queueURL string, msgs ...Message) error {
	fifo := strings.HasSuffix(queueURL, ".fifo")
	for start := 0; start < len(msgs); {
		end, size := start, 0
		for end < len(msgs) && end-start < maxBatchEntries {
			n := messageSize(msgs[end])
			if end > start && size+n > maxBatchBytes {
				break
			}
			size += n
			end++
		}
		if err := p.send(ctx, queueURL, fifo, msgs[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

func (p Publisher) send(ctx context.Context, queueURL string, fifo bool, msgs []Message) error {
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL)}
	for i, m := range msgs {
		e := sqstypes.SendMessageBatchRequestEntry{
			Id:          aws.String(strconv.Itoa(i)),
			MessageBody: aws.String(m.Body),
		}
		if fifo {
			if m.GroupID == "" {
				return fmt.Errorf("publish to %s: message %d has no group id", queueName(queueURL), i)
			}
			e.MessageGroupId = aws.String(GroupID(m.GroupID))
			if m.DedupID != "" {
				e.MessageDeduplicationId = aws.String(dedupID(m.DedupID))
			}
		} else if m.Tenant != "" {
			e.MessageGroupId = aws.String(GroupID(m.Tenant))
		}
		if h := cmp.Or(m.TraceHeader, tracing.FromContext(ctx)); h != "" {
			e.MessageSystemAttributes = map[string]sqstypes.MessageSystemAttributeValue{
				tracing.AttributeName: {DataType: aws.String("String"), StringValue: aws.String(h)},
			}
		}
		if len(m.Attributes) > 0 {
			e.MessageAttributes = map[string]sqstypes.MessageAttributeValue{}
			for k, v := range m.Attributes {
				e.MessageAttributes[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
			}
		}
		in.Entries = append(in.Entries, e)
	}
	out, err := p.API.SendMessageBatch(ctx, in)
	if err != nil {
		return fmt.Errorf("publish %d messages to %s: %w", len(msgs), queueName(queueURL), err)
	}
	if len(out.Failed) > 0 {
		var errs []error
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("entry %s: %s %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
		return fmt.Errorf("publish to %s: %d of %d messages refused: %w", queueName(queueURL), len(out.Failed), len(msgs), errors.Join(errs...))
	}
	return nil
}

// TooLarge reports whether m is over the size SQS accepts for one message
// (body and attributes), so that no publish can ever succeed with it.
func TooLarge(m Message) bool { return messageSize(m) > maxBatchBytes }

func messageSize(m Message) int {
	n := len(m.Body) + len(m.TraceHeader)
	for k, v := range m.Attributes {
		n += len(k) + len(v) + len("String")
	}
	return n
}

// GroupID keeps a message group id within SQS's rule (1 to 128
// alphanumeric or punctuation characters): an id that follows it is kept
// as it is, any other becomes its first 64 characters (others than those
// allowed turned into '_') and a hash of the whole, 96 characters. The same
// id always gives the same group, and distinct ids stay distinct, so order
// holds. Group ids with a tenant id (tenant.MaxIDLength), a phone number id
// and a wa_id always fit; a contact known only by a business-scoped user
// id ("CC." and up to 128 characters) does not.
func GroupID(id string) string { return fifoID(id) }

// dedupID keeps a deduplication id within the same rule.
func dedupID(id string) string { return fifoID(id) }

func fifoID(id string) string {
	ok := len(id) >= 1 && len(id) <= 128
	for i := 0; ok && i < len(id); i++ {
		ok = id[i] >= '!' && id[i] <= '~'
	}
	if ok {
		return id
	}
	p := []byte(id[:min(len(id), 64)])
	for i, c := range p {
		if c < '!' || c > '~' {
			p[i] = '_'
		}
	}
	return string(p) + shortHash(id)
}

func queueName(url string) string {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}
