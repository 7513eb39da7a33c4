package event

import (
	"encoding/json"
	"fmt"
	"strings"
)

// PaymentStatus is a payment status Meta reported for an order-details
// message (payment.status): WhatsApp Payments (India: payment gateways or
// UPI) tell the business when the user's payment for the order with
// ReferenceID is captured, pending or failed. It is not a delivery state of
// the message and never changes the message's message.status.
type PaymentStatus struct {
	MessageID string `json:"message_id"` // wamid of the order_details message
	// Status is Meta's payment status, lower case: captured, pending or
	// failed (other values are forwarded as sent).
	Status string `json:"status"`
	At     string `json:"at"` // Meta's timestamp (RFC 3339)
	// ReferenceID is the business's own order id from the order_details
	// message.
	ReferenceID string `json:"reference_id,omitempty"`
	// Amount is the order total as Meta gives it: Value / Offset in
	// Currency (value 21000, offset 100 = 210.00).
	Amount      *PaymentAmount      `json:"amount,omitempty"`
	Currency    string              `json:"currency,omitempty"`
	Transaction *PaymentTransaction `json:"transaction,omitempty"`
	// Recipient is the user the order was sent to (Meta's recipient_id, or
	// from in older payloads).
	Recipient string `json:"recipient,omitempty"`
	// Raw is the status object exactly as Meta sent it (receipt, refunds,
	// sender and whatever Meta adds).
	Raw json.RawMessage `json:"raw"`
}

// PaymentAmount is an amount in minor units: Value / Offset.
type PaymentAmount struct {
	Value  int64 `json:"value"`
	Offset int64 `json:"offset"`
}

// PaymentTransaction is the payment gateway's transaction behind a payment
// status.
type PaymentTransaction struct {
	ID        string         `json:"id,omitempty"`
	Type      string         `json:"type,omitempty"`   // gateway: razorpay, payu, billdesk, zaakpay, upi...
	Status    string         `json:"status,omitempty"` // success, pending, failed
	Method    string         `json:"method,omitempty"` // upi, card, wallet, netbanking
	CreatedAt string         `json:"created_at,omitempty"`
	UpdatedAt string         `json:"updated_at,omitempty"`
	Amount    *PaymentAmount `json:"amount,omitempty"`
	Currency  string         `json:"currency,omitempty"`
	Error     *PaymentError  `json:"error,omitempty"`
}

// PaymentError is why a transaction failed, as the gateway reported it.
type PaymentError struct {
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type metaAmount struct {
	Value  flexInt `json:"value"`
	Offset flexInt `json:"offset"`
}

func (a *metaAmount) event() *PaymentAmount {
	if a == nil {
		return nil
	}
	return &PaymentAmount{Value: int64(a.Value), Offset: int64(a.Offset)}
}

type metaPaymentStatus struct {
	ID          flexString `json:"id"`
	Type        string     `json:"type"`
	Status      string     `json:"status"`
	Timestamp   flexString `json:"timestamp"`
	RecipientID flexString `json:"recipient_id"`
	From        flexString `json:"from"`
	Payment     *struct {
		ReferenceID flexString  `json:"reference_id"`
		Amount      *metaAmount `json:"amount"`
		Currency    string      `json:"currency"`
		Transaction *struct {
			ID       flexString  `json:"id"`
			Type     string      `json:"type"`
			Status   string      `json:"status"`
			Created  flexString  `json:"created_timestamp"`
			Updated  flexString  `json:"updated_timestamp"`
			Amount   *metaAmount `json:"amount"`
			Currency string      `json:"currency"`
			Method   *struct {
				Type string `json:"type"`
			} `json:"method"`
			Error *struct {
				Code   flexString `json:"code"`
				Reason string     `json:"reason"`
			} `json:"error"`
		} `json:"transaction"`
	} `json:"payment"`
}

// IsPaymentStatus reports whether a statuses[] item is a payment status
// (type "payment", or a payment object without a type) rather than a
// delivery status of a message.
func IsPaymentStatus(item []byte) bool {
	var m struct {
		Type    string          `json:"type"`
		Payment json.RawMessage `json:"payment"`
	}
	if json.Unmarshal(item, &m) != nil {
		return false
	}
	return strings.EqualFold(m.Type, "payment") || (m.Type == "" && len(m.Payment) > 0 && string(m.Payment) != "null")
}

// ParsePaymentStatus reads a payment status item. It fails when the item
// has no id or status, or a field that cannot be understood.
func ParsePaymentStatus(item []byte) (PaymentStatus, error) {
	var m metaPaymentStatus
	if err := json.Unmarshal(item, &m); err != nil {
		return PaymentStatus{}, fmt.Errorf("parse payment status: %w", err)
	}
	if m.ID == "" || m.Status == "" {
		return PaymentStatus{}, fmt.Errorf("parse payment status: id %q, status %q: both are required", m.ID, m.Status)
	}
	p := PaymentStatus{
		MessageID: string(m.ID), Status: strings.ToLower(m.Status), At: UnixTime(string(m.Timestamp)),
		Recipient: string(m.RecipientID), Raw: compact(item),
	}
	if p.Recipient == "" {
		p.Recipient = string(m.From)
	}
	if pay := m.Payment; pay != nil {
		p.ReferenceID, p.Amount, p.Currency = string(pay.ReferenceID), pay.Amount.event(), pay.Currency
		if tx := pay.Transaction; tx != nil {
			t := &PaymentTransaction{ID: string(tx.ID), Type: tx.Type, Status: tx.Status,
				CreatedAt: UnixTime(string(tx.Created)), UpdatedAt: UnixTime(string(tx.Updated)),
				Amount: tx.Amount.event(), Currency: tx.Currency}
			if tx.Method != nil {
				t.Method = tx.Method.Type
			}
			if e := tx.Error; e != nil && (e.Code != "" || e.Reason != "") {
				t.Error = &PaymentError{Code: string(e.Code), Reason: e.Reason}
			}
			p.Transaction = t
		}
	}
	return p, nil
}
