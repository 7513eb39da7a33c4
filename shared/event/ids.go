package event

// Event ids. Each kind of fact has one derivation, and every derivation
// starts with the event type and the tenant (then the business number where
// the fact belongs to one), so two tenants, or two numbers of one tenant,
// reporting the same Meta ids never share an event id at the core. That
// happens: Meta's test payloads use placeholder ids ("wamid.ID", media id
// "1"), and the core keys on event_id (Idempotency-Key). None of them takes
// the route, the receipt time or the unit's position, so a redelivery of
// the same fact, through either webhook route, keeps its id.

// MessageEventID is the id of a message.received or message.echo event.
// Meta's timestamp takes part because its samples reuse placeholder wamids,
// and an edit is a new fact about the same conversation.
func MessageEventID(typ, tenantID, phoneNumberID, wamid, metaTimestamp string) string {
	return ID(typ, tenantID, phoneNumberID, wamid, metaTimestamp)
}

// WebhookErrorEventID is the id of a webhook.error event. Value-level errors
// carry no id or time of their own: itemSHA256 (hex SHA-256 of the compact
// error item) identifies them.
func WebhookErrorEventID(tenantID, phoneNumberID, wabaID, itemSHA256 string) string {
	return ID(TypeWebhookError, tenantID, phoneNumberID, wabaID, itemSHA256)
}

// MediaEventID is the id of a message.media_ready or message.media_failed
// event about media mediaID of message wamid.
func MediaEventID(typ, tenantID, phoneNumberID, wamid, mediaID string) string {
	return ID(typ, tenantID, phoneNumberID, wamid, mediaID)
}

// StatusEventID is the id of the message.status event of message wamid
// reaching state (one per state that became current).
func StatusEventID(tenantID, phoneNumberID, wamid, state string) string {
	return ID(TypeStatusUpdated, tenantID, phoneNumberID, wamid, state)
}

// LateStatusEventID is the id of the message.status event that reports a
// state Meta sent after a higher one had become current (StatusChange.Late).
func LateStatusEventID(tenantID, phoneNumberID, wamid, state string) string {
	return ID(TypeStatusUpdated, tenantID, phoneNumberID, wamid, "late", state)
}

// PaymentEventID is the id of a payment.status event: the payment status
// Meta reported for order-details message wamid, at its time.
func PaymentEventID(tenantID, phoneNumberID, wamid, status, metaTimestamp, transactionID, transactionStatus string) string {
	return ID(TypePaymentStatus, tenantID, phoneNumberID, wamid, status, metaTimestamp, transactionID, transactionStatus)
}

// AccountEventID is the id of an account.<field> event; parts identify the
// change within the tenant (WABA, number, value hash, entry time...).
func AccountEventID(typ, tenantID string, parts ...string) string {
	return ID(append([]string{typ, tenantID}, parts...)...)
}

// OutboundEventID is the id of an outbound job's result event. The sender
// and the status function both use it: whichever publishes the acceptance
// first, the core receives it once (FIFO deduplication, Idempotency-Key).
func OutboundEventID(typ, tenantID, jobID string) string {
	return ID(typ, tenantID, jobID)
}
