package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/shared/queue"
)

// DLQAPI is the part of the SQS client the dlq commands use.
type DLQAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// peekVisibility hides the messages being read for as long as a listing
// takes; they are made visible again right after.
const peekVisibility = 60

// dlqMessage is one dead-lettered message as listed.
type dlqMessage struct {
	Queue      string            `json:"queue"`
	MessageID  string            `json:"message_id"`
	GroupID    string            `json:"group_id,omitempty"`
	SentAt     string            `json:"sent_at,omitempty"`
	Receives   int               `json:"receives"`
	Reason     string            `json:"reason,omitempty"`
	Class      string            `json:"class,omitempty"`
	Code       string            `json:"code,omitempty"`
	SourceMsg  string            `json:"source_message_id,omitempty"`
	BodyBytes  int               `json:"body_bytes"`
	Body       string            `json:"body,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`

	receipt string
	raw     sqstypes.Message
}

// selectQueues returns the pairs named by --queue (all when empty).
func (a *app) selectQueues(name string) ([]QueuePair, error) {
	if len(a.names.Queues) == 0 {
		return nil, usageErr("dead-letter queues unknown: pass --stack or --endpoint-url http://127.0.0.1:4566")
	}
	if name == "" {
		return a.names.Queues, nil
	}
	for _, q := range a.names.Queues {
		if strings.EqualFold(q.Name, name) || strings.EqualFold(q.Name+"DLQ", name) {
			return []QueuePair{q}, nil
		}
	}
	var names []string
	for _, q := range a.names.Queues {
		names = append(names, q.Name)
	}
	return nil, usageErr("unknown queue %q: want one of %s", name, strings.Join(names, ", "))
}

// peek receives up to max messages of a DLQ, hidden for peekVisibility;
// the caller makes them visible again with releaseOnly (or deletes them),
// so listing changes nothing but their receive counts. On a FIFO queue SQS
// returns at most one batch per message group while it is in flight, so a
// very long group is listed in part.
func peek(ctx context.Context, c DLQAPI, pair QueuePair, max int, withBody bool) ([]dlqMessage, error) {
	var msgs []dlqMessage
	seen := map[string]bool{}
	for len(msgs) < max {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(pair.DLQURL),
			MaxNumberOfMessages:         int32(min(10, max-len(msgs))),
			VisibilityTimeout:           peekVisibility,
			WaitTimeSeconds:             0,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			releaseOnly(ctx, c, pair, msgs)
			return nil, fmt.Errorf("read %s dead-letter queue: %w", pair.Name, err)
		}
		if len(out.Messages) == 0 {
			break
		}
		fresh := 0
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id], fresh = true, fresh+1
			msgs = append(msgs, describe(pair.Name, m, withBody))
		}
		if fresh == 0 {
			break
		}
	}
	return msgs, nil
}

func describe(queueName string, m sqstypes.Message, withBody bool) dlqMessage {
	d := dlqMessage{
		Queue: queueName, MessageID: aws.ToString(m.MessageId), GroupID: m.Attributes["MessageGroupId"],
		BodyBytes: len(aws.ToString(m.Body)), receipt: aws.ToString(m.ReceiptHandle), raw: m,
		Attributes: map[string]string{},
	}
	d.Receives, _ = strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
		d.SentAt = time.UnixMilli(ms).UTC().Format(time.RFC3339)
	}
	for k, v := range m.MessageAttributes {
		s := aws.ToString(v.StringValue)
		switch k {
		case queue.ReasonAttribute:
			d.Reason = s
		case "wacloud-failure-class":
			d.Class = s
		case "wacloud-failure-code":
			d.Code = s
		case "wacloud-source-message":
			d.SourceMsg = s
		default:
			d.Attributes[k] = s
		}
	}
	if d.Reason == "" {
		d.Reason = "(none: moved by SQS after maxReceiveCount receives, or sent without a reason)"
	}
	if withBody {
		d.Body = aws.ToString(m.Body)
	}
	return d
}

func dlqList(ctx context.Context, a *app, args []string) error {
	fs := a.flags("[--queue NAME] [--max N] [--body] [--json]")
	name := fs.String("queue", "", "only this queue: Inbound, CoreEvents, Outbound, Media or Status")
	max := fs.Int("max", 50, "most messages listed per queue")
	withBody := fs.Bool("body", false, "print message bodies (they can hold customers' messages: personal data)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := a.resolve(ctx); err != nil {
		return err
	}
	pairs, err := a.selectQueues(*name)
	if err != nil {
		return err
	}
	c := sqs.NewFromConfig(a.cfg)
	type listing struct {
		Queue    string       `json:"queue"`
		DLQURL   string       `json:"dlq_url"`
		Depth    int          `json:"depth"`
		InFlight int          `json:"in_flight"`
		Messages []dlqMessage `json:"messages"`
	}
	var all []listing
	for _, p := range pairs {
		attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(p.DLQURL),
			AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			},
		})
		if err != nil {
			return fmt.Errorf("read %s dead-letter queue: %w", p.Name, err)
		}
		l := listing{Queue: p.Name, DLQURL: p.DLQURL}
		l.Depth, _ = strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
		l.InFlight, _ = strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
		// In-flight messages count too: they may be visible again by now
		// (and an emulator may still count them in flight).
		if l.Depth+l.InFlight > 0 && *max > 0 {
			msgs, err := peek(ctx, c, p, *max, *withBody)
			releaseOnly(ctx, c, p, msgs)
			if err != nil {
				return err
			}
			l.Messages = msgs
		}
		all = append(all, l)
	}
	if *asJSON {
		return printJSON(a.Stdout, all)
	}
	for i, l := range all {
		if i > 0 {
			fmt.Fprintln(a.Stdout)
		}
		fmt.Fprintf(a.Stdout, "%s DLQ: %d message(s)", l.Queue, l.Depth)
		if l.InFlight > 0 {
			fmt.Fprintf(a.Stdout, ", %d in flight", l.InFlight)
		}
		fmt.Fprintln(a.Stdout)
		if len(l.Messages) == 0 {
			continue
		}
		w := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  MESSAGE ID\tGROUP\tSENT\tCLASS\tCODE\tREASON")
		for _, m := range l.Messages {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", m.MessageID, m.GroupID, m.SentAt, m.Class, m.Code, oneLine(m.Reason))
		}
		w.Flush()
		if *withBody {
			for _, m := range l.Messages {
				fmt.Fprintf(a.Stdout, "  body of %s: %s\n", m.MessageID, m.Body)
			}
		}
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func dlqRedrive(ctx context.Context, a *app, args []string) error {
	fs := a.flags("[--queue NAME] [--id MESSAGE_ID ...] [--max N] [--yes]")
	name := fs.String("queue", "", "only this queue: Inbound, CoreEvents, Outbound, Media or Status")
	var ids list
	fs.Var(&ids, "id", "redrive only this dead-letter message id (repeatable)")
	max := fs.Int("max", 1000, "most messages redriven per queue")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := a.resolve(ctx); err != nil {
		return err
	}
	pairs, err := a.selectQueues(*name)
	if err != nil {
		return err
	}
	want, missing := map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		want[id], missing[id] = true, true
	}
	c := sqs.NewFromConfig(a.cfg)

	type batch struct {
		pair QueuePair
		msgs []dlqMessage
	}
	var batches []batch
	releaseAll := func(from int) {
		for _, b := range batches[from:] {
			releaseOnly(ctx, c, b.pair, b.msgs)
		}
	}
	total := 0
	for _, p := range pairs {
		if p.SourceURL == "" {
			releaseAll(0)
			return fmt.Errorf("the %s queue's URL is unknown; cannot redrive its DLQ", p.Name)
		}
		msgs, err := peek(ctx, c, p, *max, false)
		if err != nil {
			releaseAll(0)
			return err
		}
		var chosen, others []dlqMessage
		for _, m := range msgs {
			if len(want) == 0 || want[m.MessageID] {
				chosen = append(chosen, m)
				delete(missing, m.MessageID)
			} else {
				others = append(others, m)
			}
		}
		// Messages not chosen are made visible again at once.
		releaseOnly(ctx, c, p, others)
		batches = append(batches, batch{pair: p, msgs: chosen})
		total += len(chosen)
	}
	if len(missing) > 0 {
		releaseAll(0)
		ids := make([]string, 0, len(missing))
		for id := range missing {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return fmt.Errorf("message id(s) not found in the dead-letter queues: %s", strings.Join(ids, ", "))
	}
	if total == 0 {
		fmt.Fprintln(a.Stdout, "nothing to redrive")
		return nil
	}
	for _, b := range batches {
		if len(b.msgs) > 0 {
			fmt.Fprintf(a.Stderr, "%s: %d message(s) back to %s\n", b.pair.Name, len(b.msgs), queueNameOf(b.pair.SourceURL))
		}
	}
	if err := a.confirm(*yes, "Redrive %d message(s)? Fix the cause first, or they come back.", total); err != nil {
		releaseAll(0)
		return err
	}
	moved := 0
	prog := a.progress("redriving")
	defer prog.Done()
	for bi, b := range batches {
		for i, m := range b.msgs {
			prog.Update(moved, total)
			if err := redriveOne(ctx, c, b.pair, m); err != nil {
				// The rest stay on the DLQ, visible again.
				releaseOnly(ctx, c, b.pair, b.msgs[i:])
				releaseAll(bi + 1)
				return fmt.Errorf("after %d moved: %w", moved, err)
			}
			moved++
		}
	}
	prog.Update(moved, total)
	prog.Done()
	fmt.Fprintf(a.Stdout, "redrove %d message(s)\n", moved)
	return nil
}

func releaseOnly(ctx context.Context, c DLQAPI, p QueuePair, msgs []dlqMessage) {
	for _, m := range msgs {
		_, _ = c.ChangeMessageVisibility(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(p.DLQURL), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: 0,
		})
	}
}

// redriveOne sends a dead-lettered message back to its source queue, then
// deletes it from the DLQ. FIFO messages keep their group; the
// deduplication id is derived from the DLQ message id, so a second attempt
// after a crash between send and delete is dropped by SQS (within its
// five-minute window). The failure attributes are not carried back.
func redriveOne(ctx context.Context, c DLQAPI, p QueuePair, m dlqMessage) error {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(p.SourceURL), MessageBody: m.raw.Body}
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m.raw.MessageAttributes {
		if strings.HasPrefix(k, "wacloud-failure-") || k == "wacloud-source-queue" || k == "wacloud-source-message" {
			continue
		}
		attrs[k] = v
	}
	if len(attrs) > 0 {
		in.MessageAttributes = attrs
	}
	if strings.HasSuffix(p.SourceURL, ".fifo") {
		group := m.GroupID
		if group == "" || group == "dead-letter" {
			group = "redrive"
		}
		in.MessageGroupId = aws.String(group)
		in.MessageDeduplicationId = aws.String("redrive-" + m.MessageID)
	}
	if _, err := c.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send %s back to %s: %w", m.MessageID, queueNameOf(p.SourceURL), err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(p.DLQURL), ReceiptHandle: aws.String(m.receipt)}); err != nil {
		return fmt.Errorf("delete %s from the %s DLQ (it was sent back; a second redrive within 5 minutes is deduplicated): %w", m.MessageID, p.Name, err)
	}
	return nil
}

func queueNameOf(url string) string {
	return url[strings.LastIndex(url, "/")+1:]
}
