package status

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// payment forwards a payment status of an order-details message as its own
// payment.status event. It is not a delivery state: the message record is
// not touched, so a failed payment never reads as a failed message.
func (h *Handler) payment(ctx context.Context, rec events.SQSMessage, u whatsapp.Unit) error {
	p, err := event.ParsePaymentStatus(u.Item)
	if err != nil {
		return fault.InvalidErr(fmt.Errorf("payment status of tenant %s number %s: %w", u.TenantID, u.Metadata.PhoneNumberID, err))
	}
	phone := u.Metadata.PhoneNumberID
	if phone == "" {
		return fault.Invalidf("payment status %s of %s (tenant %s): no metadata.phone_number_id", p.Status, p.MessageID, u.TenantID)
	}
	metaAt := p.At
	occurred := p.At
	if occurred == "" {
		// Meta always sends one; the receipt time is the next best thing.
		at, ok := parseTime(u.ReceivedAt)
		if !ok {
			at = h.now()
		}
		occurred = rfc3339(at)
		p.At = occurred
	}
	var txID, txStatus string
	if tx := p.Transaction; tx != nil {
		txID, txStatus = tx.ID, tx.Status
	}
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		// Meta's own time (not the receipt time) takes part, so a
		// redelivery keeps the id.
		EventID:       event.PaymentEventID(u.TenantID, phone, p.MessageID, p.Status, metaAt, txID, txStatus),
		Type:          event.TypePaymentStatus,
		TenantID:      u.TenantID,
		PhoneNumberID: phone,
		WABAID:        u.WABAID,
		OccurredAt:    occurred,
		Payment:       &p,
	}
	if p.Recipient != "" {
		ev.Contact = &event.Contact{WaID: p.Recipient}
	}
	if err := h.push(ctx, rec, ev); err != nil {
		return fmt.Errorf("payment status %s of %s: %w", p.Status, p.MessageID, err)
	}
	h.Metrics.Count("PaymentStatus", 1, "Status", p.Status)
	h.log().InfoContext(ctx, "payment status pushed", "tenant_id", u.TenantID, "phone_number_id", phone,
		"wamid", p.MessageID, "payment_status", p.Status, "at", occurred)
	return nil
}
