package sender

import (
	"context"
	"sync"

	"github.com/tucanlink/wacloud/shared/queue"
)

// outbox gathers a batch's result events so they go to the core events
// queue in one SendMessageBatch at the end of the batch instead of one call
// per job. Nothing is lost by waiting: an event is only put in the outbox
// after the job's record holds its outcome (sent with the wamid, or
// failed), and when the final publish fails every job whose event was in
// it is reported as a batch item failure; its redelivery finds the record
// and publishes the result again (replay), deduplicated by event id. A
// crash before the publish is the same redelivery. Rejected jobs (dead-
// lettered, no record) are still reported at once.
//
// Records of one message group append in the order they ran, so a
// contact's events keep their order. It is safe for concurrent use.
type outbox struct {
	mu   sync.Mutex
	msgs []queue.Message
	ids  []string // SQS message id of the record each message reports
}

type outboxKey struct{}

// outboxEntry ties a record being handled to its batch's outbox.
type outboxEntry struct {
	box   *outbox
	msgID string
}

func withOutbox(ctx context.Context, box *outbox, msgID string) context.Context {
	return context.WithValue(ctx, outboxKey{}, outboxEntry{box: box, msgID: msgID})
}

// immediate makes publish send at once even inside a batch.
func immediate(ctx context.Context) context.Context {
	return context.WithValue(ctx, outboxKey{}, outboxEntry{})
}

// deferred puts m in the batch's outbox, if ctx has one.
func deferred(ctx context.Context, m queue.Message) bool {
	e, ok := ctx.Value(outboxKey{}).(outboxEntry)
	if !ok || e.box == nil {
		return false
	}
	e.box.mu.Lock()
	defer e.box.mu.Unlock()
	e.box.msgs = append(e.box.msgs, m)
	e.box.ids = append(e.box.ids, e.msgID)
	return true
}

// flush publishes the gathered events. On error it returns the SQS message
// ids of the records whose results may not have been published.
func (b *outbox) flush(ctx context.Context, p Publisher, queueURL string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.msgs) == 0 {
		return nil, nil
	}
	if err := p.Publish(ctx, queueURL, b.msgs...); err != nil {
		return b.ids, err
	}
	return nil, nil
}
